/**
 * Where a container's cgroup files are: the host's cgroup version and mount points, then the
 * container's directory for each resource, under cgroup v1 or v2, the cgroupfs or systemd
 * driver, and rootless Docker's user slice.
 *
 * @module
 */
import type { ContainerInfo } from "../../catalog/container.ts";
import type { HostRoot } from "../../host/host_root.ts";

/** What a container's sample is made of, one cgroup directory each. */
export type Resource = "cpu" | "memory" | "blkio" | "pids";

/** Every {@link Resource}, in reading order. */
export const RESOURCES: readonly Resource[] = ["cpu", "memory", "blkio", "pids"];

/**
 * The v1 controller of each resource, as named in /proc/<pid>/cgroup and under
 * /sys/fs/cgroup (kernel Documentation/admin-guide/cgroup-v1/: cpuacct.rst, memory.rst,
 * blkio-controller.rst, pids.rst).
 */
export const V1_CONTROLLERS: Readonly<Record<Resource, string>> = {
  cpu: "cpuacct",
  memory: "memory",
  blkio: "blkio",
  pids: "pids",
};

/** The cgroup filesystem as the host mounts it. */
export interface CgroupLayout {
  /** 1: one hierarchy per controller (legacy or hybrid); 2: the unified hierarchy. */
  readonly version: 1 | 2;
  /** Host path of the hierarchy each resource is read from (v2: `/sys/fs/cgroup` for all). */
  readonly mounts: Readonly<Record<Resource, string>>;
}

/** The files a sample reads, host paths. */
export interface CgroupFiles {
  /** v1 `cpuacct.usage` (ns) or v2 `cpu.stat` (`usage_usec`). */
  readonly cpu: string;
  /** v1 `memory.usage_in_bytes` or v2 `memory.current`. */
  readonly memoryUsage: string;
  /** `memory.stat`. */
  readonly memoryStat: string;
  /** v1 `memory.limit_in_bytes` or v2 `memory.max`. */
  readonly memoryLimit: string;
  /** v1 `blkio.throttle.io_service_bytes` or v2 `io.stat`. */
  readonly blkio: string;
  /** `pids.current`. */
  readonly pids: string;
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/**
 * Finds the host's cgroup layout: v2 when `/sys/fs/cgroup/cgroup.controllers` exists (the
 * unified hierarchy is mounted there), else v1 with each controller's hierarchy at
 * `/sys/fs/cgroup/<controller>` or at a joint mount such as `/sys/fs/cgroup/cpu,cpuacct`
 * (systemd links `cpuacct` to it; a hybrid host's `/sys/fs/cgroup/unified` is not used, as
 * docker does not use it).
 *
 * Source: kernel Documentation/admin-guide/cgroup-v2.rst ("Mounting", cgroup.controllers in
 * every cgroup); systemd's hierarchy modes (systemd.io/CGROUP_DELEGATION).
 *
 * @param host the host root.
 * @returns the layout, or null when neither layout is visible (no cgroup filesystem under the
 *   root, e.g. a plain non-recursive bind of `/`, or the v1 `cpuacct` or `memory` hierarchy
 *   missing).
 * @throws a Deno permission error when the root leads to /sys without --allow-all.
 */
export function detectLayout(host: HostRoot): CgroupLayout | null {
  if (exists(host, `${CGROUP_ROOT}/cgroup.controllers`)) {
    return {
      version: 2,
      mounts: { cpu: CGROUP_ROOT, memory: CGROUP_ROOT, blkio: CGROUP_ROOT, pids: CGROUP_ROOT },
    };
  }
  const entries = listDir(host, CGROUP_ROOT);
  if (entries === null) return null;
  const mount = (controller: string): string | undefined => {
    const joint = entries.includes(controller)
      ? controller
      : entries.find((e) => e.split(",").includes(controller));
    return joint === undefined ? undefined : `${CGROUP_ROOT}/${joint}`;
  };
  const cpu = mount(V1_CONTROLLERS.cpu);
  const memory = mount(V1_CONTROLLERS.memory);
  if (cpu === undefined || memory === undefined) return null;
  const blkio = mount(V1_CONTROLLERS.blkio) ?? `${CGROUP_ROOT}/blkio`;
  const pids = mount(V1_CONTROLLERS.pids) ?? `${CGROUP_ROOT}/pids`;
  return { version: 1, mounts: { cpu, memory, blkio, pids } };
}

/**
 * A container's cgroup path from its init process's /proc/<pid>/cgroup entry, cut after the
 * last component that names the container (`/system.slice/docker-<id>.scope/init.scope`, as
 * a container running systemd shows, becomes `/system.slice/docker-<id>.scope`: docker
 * reports the container's cgroup, not its init's sub-cgroup).
 *
 * @param path the path as read, e.g. `/docker/<id>`.
 * @param id the full container ID.
 * @returns the path, or null when it climbs out of the reader's cgroup namespace (`/..`: read
 *   from a private cgroup namespace) or is the root `/`.
 */
export function containerCgroupPath(path: string, id: string): string | null {
  if (path === "/" || path.split("/").includes("..")) return null;
  const parts = path.split("/");
  for (let i = parts.length - 1; i > 0; i--) {
    if (parts[i]!.includes(id)) return parts.slice(0, i + 1).join("/");
  }
  return path;
}

/**
 * The directories where a resource of a container may be, most likely first (pure: nothing is
 * checked):
 * 1. the path from /proc/<pid>/cgroup ({@link containerCgroupPath}), which also covers
 *    `--cgroup-parent` and rootless Docker;
 * 2. the cgroupfs driver: `<mount>/docker/<id>`;
 * 3. the systemd driver: `<mount>/system.slice/docker-<id>.scope`;
 * 4. rootless Docker (v2, systemd driver), for each `user` given:
 *    `<mount>/user.slice/user-<uid>.slice/user@<uid>.service/user.slice/docker-<id>.scope`.
 *
 * Sources: docker docs "Runtime metrics" (find the cgroup for a given container: v1
 * `/sys/fs/cgroup/memory/docker/<longid>/`, v2 `/sys/fs/cgroup/system.slice/docker-<longid>.scope/`
 * with systemd, `/sys/fs/cgroup/docker/<longid>/` with cgroupfs); docker/docs#14545 (the
 * rootless path); moby daemon/oci_linux.go (cgroup parent `docker`, or `system.slice` with
 * the systemd driver, `user.slice` when rootless, and scope `docker-<id>.scope`: `withCgroups`).
 *
 * @param layout the host's layout.
 * @param resource which hierarchy.
 * @param id the full container ID.
 * @param cgroups the catalog's `ContainerInfo.cgroups` (may be empty).
 * @param rootlessUids user IDs with a `user-<uid>.slice` (v2), for step 4.
 * @returns host directories, without duplicates.
 */
export function candidateDirs(
  layout: CgroupLayout,
  resource: Resource,
  id: string,
  cgroups: Readonly<Record<string, string>>,
  rootlessUids: readonly string[] = [],
): string[] {
  const mount = layout.mounts[resource];
  const out: string[] = [];
  const fromProc = procPath(layout, resource, cgroups);
  const trimmed = fromProc === undefined ? null : containerCgroupPath(fromProc, id);
  if (trimmed !== null) out.push(mount + trimmed);
  out.push(`${mount}/docker/${id}`, `${mount}/system.slice/docker-${id}.scope`);
  if (layout.version === 2) {
    for (const uid of rootlessUids) {
      out.push(
        `${mount}/user.slice/user-${uid}.slice/user@${uid}.service/user.slice/docker-${id}.scope`,
      );
    }
  }
  return [...new Set(out)];
}

/** The /proc/<pid>/cgroup path of a resource's hierarchy, if the catalog has it. */
function procPath(
  layout: CgroupLayout,
  resource: Resource,
  cgroups: Readonly<Record<string, string>>,
): string | undefined {
  if (layout.version === 2) return cgroups[""];
  const controller = V1_CONTROLLERS[resource];
  for (const [key, path] of Object.entries(cgroups)) {
    if (key.split(",").includes(controller)) return path;
  }
  return undefined;
}

/**
 * The sample's files inside a container's directories.
 *
 * Sources: kernel Documentation/admin-guide/cgroup-v1/{cpuacct,memory,blkio-controller,pids}.rst
 * and cgroup-v2.rst (cpu.stat, memory.current, memory.stat, memory.max, io.stat, pids.current).
 *
 * @param version the layout's version.
 * @param dirs each resource's directory (host paths).
 * @returns host paths.
 */
export function cgroupFiles(version: 1 | 2, dirs: Readonly<Record<Resource, string>>): CgroupFiles {
  return version === 1
    ? {
      cpu: `${dirs.cpu}/cpuacct.usage`,
      memoryUsage: `${dirs.memory}/memory.usage_in_bytes`,
      memoryStat: `${dirs.memory}/memory.stat`,
      memoryLimit: `${dirs.memory}/memory.limit_in_bytes`,
      blkio: `${dirs.blkio}/blkio.throttle.io_service_bytes`,
      pids: `${dirs.pids}/pids.current`,
    }
    : {
      cpu: `${dirs.cpu}/cpu.stat`,
      memoryUsage: `${dirs.memory}/memory.current`,
      memoryStat: `${dirs.memory}/memory.stat`,
      memoryLimit: `${dirs.memory}/memory.max`,
      blkio: `${dirs.blkio}/io.stat`,
      pids: `${dirs.pids}/pids.current`,
    };
}

/**
 * Finds a container's directory for every resource: the first of {@link candidateDirs} that
 * exists. Rootless user slices are listed only when nothing else matched.
 *
 * @param layout the host's layout.
 * @param host the host root.
 * @param info the container, as the catalog has it.
 * @returns each resource's directory, or null when the CPU or memory directory is not found
 *   (the container is gone, or lives where no rule looks). A missing blkio or pids directory
 *   falls back to the memory one's path, whose files are then missing and read as 0.
 * @throws a Deno permission error (the root leads to /sys without --allow-all).
 */
export function resolveDirs(
  layout: CgroupLayout,
  host: HostRoot,
  info: Pick<ContainerInfo, "id" | "cgroups">,
): Record<Resource, string> | null {
  const found: Partial<Record<Resource, string>> = {};
  let uids: string[] | null = null;
  for (const resource of RESOURCES) {
    const tried = candidateDirs(layout, resource, info.id, info.cgroups);
    let dir = tried.find((d) => exists(host, d));
    if (dir === undefined && layout.version === 2) {
      uids ??= rootlessUids(host, layout.mounts.memory);
      const rootless = candidateDirs(layout, resource, info.id, info.cgroups, uids);
      dir = rootless.find((d) => !tried.includes(d) && exists(host, d));
    }
    if (dir !== undefined) found[resource] = dir;
  }
  const { cpu, memory } = found;
  if (cpu === undefined || memory === undefined) return null;
  return { cpu, memory, blkio: found.blkio ?? memory, pids: found.pids ?? memory };
}

/** The user IDs that have a `user-<uid>.slice` under the v2 `user.slice`. */
function rootlessUids(host: HostRoot, mount: string): string[] {
  const entries = listDir(host, `${mount}/user.slice`) ?? [];
  return entries.flatMap((e) => /^user-(\d+)\.slice$/.exec(e)?.[1] ?? []);
}

/**
 * Whether a host path exists (following symlinks). Synchronous: it runs when a container
 * starts, a few `stat(2)` calls.
 * @throws a Deno permission error (the root leads to /sys without --allow-all).
 */
function exists(host: HostRoot, abs: string): boolean {
  try {
    Deno.statSync(host.path(abs));
    return true;
  } catch (err) {
    if (isPermissionError(err)) throw err;
    return false;
  }
}

/** A host directory's entry names, or null when it cannot be listed. @throws as {@link exists}. */
function listDir(host: HostRoot, abs: string): string[] | null {
  try {
    return [...Deno.readDirSync(host.path(abs))].map((e) => e.name);
  } catch (err) {
    if (isPermissionError(err)) throw err;
    return null;
  }
}

function isPermissionError(err: unknown): boolean {
  return err instanceof Deno.errors.NotCapable || err instanceof Deno.errors.PermissionDenied;
}
