/**
 * The one reader of host files (`/proc`, `/sys`, `/dev`, mount points) under `--host-root`,
 * as node_exporter's `--path.rootfs`: every absolute host path is joined under the root
 * before it is opened, and symlinks resolve inside the root as in a chroot.
 *
 * Deno opens `/proc`, `/sys` and `/dev` only when every permission is granted (Deno 1.43+,
 * GHSA-23rx-c3g5-hv9w), so the daemon runs with `--allow-all`; a refusal surfaces as Deno's own
 * error, which names that flag.
 *
 * @module
 */

import { type BigIntStats } from "node:fs";
import { lstat, readdir, readFile, readlink, stat } from "node:fs/promises";
import { posix } from "node:path";

/** Symlinks followed at most while resolving one path (Linux `MAXSYMLINKS`, path_resolution(7)). */
export const MAX_SYMLINKS = 40;

/**
 * Normalises an absolute host path: collapses `//`, `.` and `..` (never above `/`) and drops a
 * trailing slash except for `/` itself (`"/var/lib//docker/"` is `"/var/lib/docker"`).
 * Source: POSIX pathname resolution (XBD 4.13), as `path.posix.normalize`. Never throws.
 */
export function normalizeHostPath(path: string): string {
  const n = posix.normalize(path);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/** The `code` of a node `fs` error (`"ENOENT"`, ...), or `undefined`. Never throws. */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/**
 * Host files read through one root. Paths given to the methods are host paths (starting with
 * `/`); the methods throw node `fs` errors (`code` `ENOENT`, `EACCES`, ...) or Deno's
 * permission errors as they come.
 *
 * @example
 * ```ts
 * const host = new HostRoot("/host");
 * await host.readText("/proc/diskstats"); // reads /host/proc/diskstats
 * await host.resolve("/dev/disk/by-uuid/x"); // "/dev/nvme0n1p1"
 * ```
 */
export class HostRoot {
  /** The root, normalised (`/` by default). */
  readonly root: string;

  /** @param root `--host-root`: where the host's `/` is visible (absolute or relative). */
  constructor(root = "/") {
    this.root = normalizeHostPath(root);
  }

  /** The local path of a host path: `/proc/x` under root `/host` is `/host/proc/x`. Never throws. */
  path(abs: string): string {
    const host = normalizeHostPath(abs);
    return host === "/" ? this.root : posix.join(this.root, host);
  }

  /** A host file's text (UTF-8). @throws a node `fs` or Deno permission error. */
  readText(abs: string): Promise<string> {
    return readFile(this.path(abs), "utf8");
  }

  /** A host directory's entry names. @throws a node `fs` or Deno permission error. */
  readDir(abs: string): Promise<string[]> {
    return readdir(this.path(abs));
  }

  /** A host symlink's target, as written (not resolved). @throws a node `fs` or Deno permission error. */
  readLink(abs: string): Promise<string> {
    return readlink(this.path(abs));
  }

  /** `stat(2)` of a host path, following symlinks, in bigints (`rdev`). @throws as {@link HostRoot.readText}. */
  stat(abs: string): Promise<BigIntStats> {
    return stat(this.path(abs), { bigint: true });
  }

  /**
   * Resolves every symlink of a host path inside the root, as the kernel does in a chroot: an
   * absolute target restarts from the root, a relative one (udev's `../../sda1`) from the
   * link's directory, and `..` never climbs above the root. Source: path_resolution(7).
   *
   * @returns the resolved host path (normalised, starting with `/`, not joined with the root).
   * @throws a node `fs` error when a component cannot be examined (`ENOENT`, `ENOTDIR`, ...),
   *   one with `code` `ELOOP` after {@link MAX_SYMLINKS} links, or a Deno permission error.
   */
  async resolve(abs: string): Promise<string> {
    let pending = abs.split("/");
    let resolved: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift();
      if (part === undefined || part === "" || part === ".") continue;
      if (part === "..") {
        resolved.pop();
        continue;
      }
      const local = this.path("/" + [...resolved, part].join("/"));
      if (!(await lstat(local)).isSymbolicLink()) {
        resolved.push(part);
        continue;
      }
      if (++links > MAX_SYMLINKS) {
        throw Object.assign(new Error(`too many levels of symbolic links: ${abs}`), {
          code: "ELOOP",
        });
      }
      const target = await readlink(local);
      if (target.startsWith("/")) resolved = [];
      pending = [...target.split("/"), ...pending];
    }
    return "/" + resolved.join("/");
  }
}
