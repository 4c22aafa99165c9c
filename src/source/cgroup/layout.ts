/**
 * Where a container's cgroup files are: the host's cgroup version and mount points, then the
 * container's directory for each resource, under cgroup v1 or v2, the cgroupfs or systemd
 * driver, and rootless Docker's user slice.
 *
 * @module
 */
import type { ContainerInfo } from "../../catalog/container.ts";
import type { HostRoot } from "../../host/host_root.ts";

/**
 * What a container's sample is made of, one cgroup directory each: the v1 controller, as named
 * in /proc/<pid>/cgroup and under /sys/fs/cgroup (kernel Documentation/admin-guide/cgroup-v1/:
 * cpuacct.rst for CPU time, scheduler/sched-bwc.rst for the `cpu` controller's quota and
 * throttling, memory.rst, blkio-controller.rst, pids.rst). On v2 they are one directory.
 */
export type Resource = "cpuacct" | "cpu" | "memory" | "blkio" | "pids";

/** Every {@link Resource}, in reading order. */
export const RESOURCES: readonly Resource[] = ["cpuacct", "cpu", "memory", "blkio", "pids"];

/** The cgroup filesystem as the host mounts it. */
export interface CgroupLayout {
  /** 1: one hierarchy per controller (legacy or hybrid); 2: the unified hierarchy. */
  readonly version: 1 | 2;
  /** Host path of the hierarchy each resource is read from (v2: `/sys/fs/cgroup` for all). */
  readonly mounts: Readonly<Record<Resource, string>>;
}

/** The files a sample reads, host paths; null for a file the version does not have. */
export interface CgroupFiles {
  /** v1 `cpuacct.usage` (ns) or v2 `cpu.stat` (`usage_usec` and the throttling keys). */
  readonly cpu: string;
  /** v1 `cpu.stat` of the `cpu` controller (throttling); null on v2, where `cpu` has it. */
  readonly cpuStat: string | null;
  /** v1 `cpu.cfs_quota_us` or v2 `cpu.max` (quota and period). */
  readonly cpuQuota: string;
  /** v1 `cpu.cfs_period_us`; null on v2. */
  readonly cpuPeriod: string | null;
  /** v1 `memory.usage_in_bytes` or v2 `memory.current`. */
  readonly memoryUsage: string;
  /** `memory.stat`. */
  readonly memoryStat: string;
  /** v1 `memory.limit_in_bytes` or v2 `memory.max`. */
  readonly memoryLimit: string;
  /** v1 `memory.oom_control` or v2 `memory.events`. */
  readonly memoryEvents: string;
  /** v1 `memory.failcnt`; null on v2 (`memory.events` has `max`). */
  readonly memoryFailcnt: string | null;
  /** v1 `blkio.throttle.io_service_bytes` or v2 `io.stat`. */
  readonly blkio: string;
  /** v1 `blkio.throttle.io_serviced`; null on v2 (`io.stat` has `rios`, `wios`). */
  readonly blkioOps: string | null;
  /** `pids.current`. */
  readonly pids: string;
  /** `pids.max`. */
  readonly pidsMax: string;
  /** v2 `cpu.pressure`; null on v1. */
  readonly cpuPressure: string | null;
  /** v2 `memory.pressure`; null on v1. */
  readonly memoryPressure: string | null;
  /** v2 `io.pressure`; null on v1. */
  readonly ioPressure: string | null;
}

const CGROUP_ROOT = "/sys/fs/cgroup";

/**
 * Finds the host's cgroup layout: v2 when `/sys/fs/cgroup/cgroup.controllers` exists (the
 * unified hierarchy is mounted there), else v1 with each controller's hierarchy at
 * `/sys/fs/cgroup/<controller>` (this machine has separate `cpu` and `cpuacct`) or at a joint
 * mount such as `/sys/fs/cgroup/cpu,cpuacct` (systemd links `cpu` and `cpuacct` to it; a
 * hybrid host's `/sys/fs/cgroup/unified` is not used, as docker does not use it).
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
    const mounts = Object.fromEntries(RESOURCES.map((r) => [r, CGROUP_ROOT]));
    return { version: 2, mounts: mounts as Record<Resource, string> };
  }
  const entries = listDir(host, CGROUP_ROOT);
  if (entries === null) return null;
  const mount = (controller: string): string | undefined => {
    const joint = entries.includes(controller)
      ? controller
      : entries.find((e) => e.split(",").includes(controller));
    return joint === undefined ? undefined : `${CGROUP_ROOT}/${joint}`;
  };
  const cpuacct = mount("cpuacct");
  const memory = mount("memory");
  if (cpuacct === undefined || memory === undefined) return null;
  const other = (r: Resource) => mount(r) ?? `${CGROUP_ROOT}/${r}`;
  return {
    version: 1,
    mounts: { cpuacct, cpu: other("cpu"), memory, blkio: other("blkio"), pids: other("pids") },
  };
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
  for (const [key, path] of Object.entries(cgroups)) {
    if (key.split(",").includes(resource)) return path;
  }
  return undefined;
}

/**
 * The sample's files inside a container's directories.
 *
 * Sources: kernel Documentation/admin-guide/cgroup-v1/{cpuacct,memory,blkio-controller,pids}.rst,
 * Documentation/scheduler/sched-bwc.rst (v1 `cpu.stat`, `cpu.cfs_quota_us`,
 * `cpu.cfs_period_us`) and cgroup-v2.rst (cpu.stat, cpu.max, memory.current, memory.stat,
 * memory.max, memory.events, io.stat, pids.current, pids.max, the `*.pressure` files).
 *
 * @param version the layout's version.
 * @param dirs each resource's directory (host paths).
 * @returns host paths.
 */
export function cgroupFiles(version: 1 | 2, dirs: Readonly<Record<Resource, string>>): CgroupFiles {
  const { cpuacct, cpu, memory, blkio, pids } = dirs;
  return version === 1
    ? {
      cpu: `${cpuacct}/cpuacct.usage`,
      cpuStat: `${cpu}/cpu.stat`,
      cpuQuota: `${cpu}/cpu.cfs_quota_us`,
      cpuPeriod: `${cpu}/cpu.cfs_period_us`,
      memoryUsage: `${memory}/memory.usage_in_bytes`,
      memoryStat: `${memory}/memory.stat`,
      memoryLimit: `${memory}/memory.limit_in_bytes`,
      memoryEvents: `${memory}/memory.oom_control`,
      memoryFailcnt: `${memory}/memory.failcnt`,
      blkio: `${blkio}/blkio.throttle.io_service_bytes`,
      blkioOps: `${blkio}/blkio.throttle.io_serviced`,
      pids: `${pids}/pids.current`,
      pidsMax: `${pids}/pids.max`,
      cpuPressure: null,
      memoryPressure: null,
      ioPressure: null,
    }
    : {
      cpu: `${cpuacct}/cpu.stat`,
      cpuStat: null,
      cpuQuota: `${cpu}/cpu.max`,
      cpuPeriod: null,
      memoryUsage: `${memory}/memory.current`,
      memoryStat: `${memory}/memory.stat`,
      memoryLimit: `${memory}/memory.max`,
      memoryEvents: `${memory}/memory.events`,
      memoryFailcnt: null,
      blkio: `${blkio}/io.stat`,
      blkioOps: null,
      pids: `${pids}/pids.current`,
      pidsMax: `${pids}/pids.max`,
      cpuPressure: `${cpu}/cpu.pressure`,
      memoryPressure: `${memory}/memory.pressure`,
      ioPressure: `${blkio}/io.pressure`,
    };
}

/**
 * Finds a container's directory for every resource: the first of {@link candidateDirs} that
 * exists. Rootless user slices are listed only when nothing else matched.
 *
 * @param layout the host's layout.
 * @param host the host root.
 * @param info the container, as the catalog has it.
 * @returns each resource's directory, or null when the cpuacct (v2: the container's) or memory
 *   directory is not found (the container is gone, or lives where no rule looks). A missing
 *   cpu, blkio or pids directory falls back to the memory one's path, whose files are then
 *   missing: their figures read as 0 or null.
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
  const { cpuacct, memory } = found;
  if (cpuacct === undefined || memory === undefined) return null;
  return {
    cpuacct,
    cpu: found.cpu ?? memory,
    memory,
    blkio: found.blkio ?? memory,
    pids: found.pids ?? memory,
  };
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
