/**
 * Access to the host's files through a configurable root (`--host-root`, default `/`), as
 * Prometheus node_exporter does with `--path.rootfs` / `--path.procfs` / `--path.sysfs`:
 * every absolute host path (`/proc/...`, `/sys/...`, a mount point, a `/dev` link) is joined
 * under the root before it is opened.
 *
 * @module
 */

import { lstat, readlink } from "node:fs/promises";
import { posix } from "node:path";

/** Maximum number of symlinks followed while resolving one path (Linux `MAXSYMLINKS`, include/linux/namei.h; path_resolution(7)). */
export const MAX_SYMLINKS = 40;

/**
 * Normalises an absolute host path: collapses `//`, `.` and `..` (never above `/`) and drops
 * a trailing slash except for `/` itself. Example: `"/var/lib//docker/"` is
 * `"/var/lib/docker"`.
 *
 * Source: POSIX path resolution (pathname resolution, XBD 4.13), as node's
 * `path.posix.normalize`.
 *
 * Never throws.
 */
export function normalizeHostPath(path: string): string {
  const n = posix.normalize(path);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

/**
 * The local path of a host path: `hostPath("/host", "/proc/diskstats")` is
 * `"/host/proc/diskstats"`; with the default root `/` the path is unchanged.
 *
 * @param hostRoot the root the host's filesystem is visible at (absolute or relative).
 * @param absolutePath a host path starting with `/`.
 *
 * Never throws.
 */
export function hostPath(hostRoot: string, absolutePath: string): string {
  return posix.join(hostRoot, normalizeHostPath(absolutePath));
}

/**
 * Resolves every symlink in a host path while staying inside `hostRoot`, as the kernel does
 * inside a chroot: an absolute link target (`/dev/disk/by-uuid/x -> /dev/sda1`) restarts from
 * the host root, not from the local `/`, and `..` never climbs above the host root. Relative
 * targets (udev's `../../sda1`) resolve from the link's directory.
 *
 * Source of the rules: path_resolution(7) (symlinks, `..` at the root, 40-link limit).
 *
 * @param hostRoot the root the host's filesystem is visible at.
 * @param absolutePath a host path starting with `/`.
 * @returns the resolved host path (normalised, starting with `/`, not joined with the root).
 * @throws {Error} a node `fs` error (`code` `ENOENT`, `EACCES`, `ENOTDIR`, ...) when a
 *   component cannot be examined, or an error with `code` `ELOOP` after
 *   {@link MAX_SYMLINKS} links.
 */
export async function resolveUnderRoot(hostRoot: string, absolutePath: string): Promise<string> {
  let pending = absolutePath.split("/");
  let resolved: string[] = [];
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift();
    if (part === undefined || part === "" || part === ".") continue;
    if (part === "..") {
      resolved.pop();
      continue;
    }
    const candidate = "/" + [...resolved, part].join("/");
    const local = hostPath(hostRoot, candidate);
    const info = await lstat(local);
    if (!info.isSymbolicLink()) {
      resolved.push(part);
      continue;
    }
    if (++links > MAX_SYMLINKS) {
      throw Object.assign(new Error(`too many levels of symbolic links: ${absolutePath}`), {
        code: "ELOOP",
      });
    }
    const target = await readlink(local);
    if (target.startsWith("/")) resolved = [];
    pending = [...target.split("/"), ...pending];
  }
  return "/" + resolved.join("/");
}

/**
 * The `code` of a node `fs` error (`"ENOENT"`, ...), or `undefined`.
 *
 * Never throws.
 */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/**
 * A one-line description of an error for warnings: its message, or `String(err)`.
 *
 * Never throws.
 */
export function describeError(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.replaceAll("\n", " ");
}

/**
 * How to run without `--allow-all`: a read-only recursive bind of the host's `/` given as
 * `--host-root`. Deno checks the path it opens, so `<bind>/proc/...` is ordinary
 * `--allow-read` while `/proc/...` is not.
 */
export const HOST_ROOT_ADVICE =
  "give --host-root a read-only bind of / instead (systemd: BindReadOnlyPaths=/:/run/container-statsd/host and --host-root /run/container-statsd/host; docker: -v /:/host:ro,rslave --host-root /host)";

/** One-line message when Deno's node:fs `statfs` is refused (no `--allow-sys=statfs`). */
export const STATFS_PERMISSION_MESSAGE =
  "disks: Deno needs --allow-sys=statfs to read filesystem space (node:fs statfs); add it to the deno run flags (deno task start has it)";

/**
 * The one-line message for {@link isAllowAllDenial}: why the host's files cannot be read
 * and what to do instead ({@link HOST_ROOT_ADVICE}).
 *
 * - host root `/`: `disks: Deno needs --allow-all to read /proc and /sys directly; give
 *   --host-root a read-only bind of / instead (systemd: ...; docker: ...)`;
 * - another root (e.g. a symlink to `/`, or `/proc/1/root`): the same, naming that root.
 *
 * Never throws.
 */
export function allowAllMessage(hostRoot: string): string {
  const root = normalizeHostPath(hostRoot);
  return root === "/"
    ? `disks: Deno needs --allow-all to read /proc and /sys directly; ${HOST_ROOT_ADVICE}`
    : `disks: Deno needs --allow-all to read under --host-root ${root} (it is or leads to /proc, /sys or /dev); ${HOST_ROOT_ADVICE}`;
}

/** Whether `err` is a Deno permission refusal (`NotCapable` since Deno 2, `PermissionDenied` before). */
function isPermissionError(err: unknown): err is Error {
  return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied;
}

/**
 * Whether `err` is Deno's refusal to open a path under `/proc`, `/sys` or `/dev` without
 * `--allow-all`, whatever `--allow-read` says (since Deno 1.43, GHSA-23rx-c3g5-hv9w):
 * a `Deno.errors.NotCapable` (Deno 2) or `PermissionDenied` (Deno 1.43-1.46) whose message
 * is `Requires all access to "<path>", run again with the --allow-all flag`. node:fs calls
 * throw it as is, without a `code`.
 *
 * Never throws.
 */
export function isAllowAllDenial(err: unknown): boolean {
  return isPermissionError(err) && /Requires all access|--allow-all/.test(err.message);
}

/**
 * Whether `err` is Deno's refusal of node:fs `statfs` without `--allow-sys=statfs`
 * (`Requires sys access to "statfs", run again with the --allow-sys flag`).
 *
 * Never throws.
 */
export function isStatfsDenial(err: unknown): boolean {
  return isPermissionError(err) && /"statfs"|--allow-sys/.test(err.message);
}
