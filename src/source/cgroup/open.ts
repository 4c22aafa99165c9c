/**
 * Startup of the cgroup source: checks that the host's cgroups and processes are readable
 * under `--host-root`, finds the layout and the host's memory, and builds the source; or says
 * in one line why not and how to fix it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CatalogView } from "../../catalog/container.ts";
import { describeError, HostRoot } from "../../host/host_root.ts";
import { detectLayout } from "./layout.ts";
import { parseMemTotal } from "./memory.ts";
import { CgroupSource } from "./source.ts";

const log = getLogger(["container-statsd", "source", "cgroup"]);

/**
 * The fixes named by {@link cgroupAccessMessage}: a read-only recursive bind of the host's `/`
 * given as `--host-root`, with the host's processes visible.
 */
export const CGROUP_ACCESS_FIX = "give the daemon a read-only recursive bind of the host's / " +
  "with the host's processes visible, and pass it as --host-root: " +
  "systemd: BindReadOnlyPaths=/:/run/container-statsd/host and ProtectProc=default, " +
  "--host-root /run/container-statsd/host; " +
  "docker: docker run -v /:/host:ro,rslave --pid host (and --cgroupns host on cgroup v2) ... " +
  "--host-root /host; " +
  "shell (as root): mkdir -p DIR && mount --rbind / DIR && mount --make-rslave DIR, " +
  "--host-root DIR";

/**
 * The one-line startup error of `--source cgroup`.
 * @param problem what could not be read, e.g. `no cgroup hierarchy at /x/sys/fs/cgroup`.
 * @returns `cgroup source: <problem>; <fix>` ({@link CGROUP_ACCESS_FIX}).
 */
export function cgroupAccessMessage(problem: string): string {
  return `cgroup source: ${problem}; ${CGROUP_ACCESS_FIX}`;
}

/** Options of {@link openCgroupSource}. */
export interface OpenCgroupSourceOptions {
  /** `--host-root`. */
  hostRoot: string;
  /** The container catalog. */
  catalog: CatalogView;
  /** `--sample-period`, milliseconds. */
  periodMs: number;
  /** systemd `WATCHDOG_USEC`, µs, if any. */
  watchdogUsec: number | null;
}

/**
 * Checks access and builds the source. Three checks, each a reason to stop at startup:
 * Deno lets the daemon open `/sys/fs/cgroup` and `/proc/1/cgroup` under the root (under `/`
 * it does not without `--allow-all`); a cgroup layout is found there (a non-recursive bind
 * carries no /sys); and `/proc/1/cgroup` reads (the host's processes are visible: systemd's
 * `ProtectProc=invisible` hides those of other users). The host's MemTotal is read from
 * `/proc/meminfo` (a failure only logs: unlimited containers then report the cgroup's limit).
 *
 * @returns the source, or the one-line error ({@link cgroupAccessMessage}) for the caller to
 *   log before exiting 1. Never rejects.
 */
export async function openCgroupSource(
  options: OpenCgroupSourceOptions,
): Promise<CgroupSource | string> {
  const host = new HostRoot(options.hostRoot);
  const denied = await host.accessProblem("cgroup", ["/sys/fs/cgroup", "/proc/1/cgroup"]);
  if (denied !== null) {
    return cgroupAccessMessage(
      host.root === "/"
        ? "Deno refuses /proc and /sys without --allow-all, which the daemon is not given"
        : denied,
    );
  }
  let layout;
  try {
    layout = detectLayout(host);
  } catch (err) {
    return cgroupAccessMessage(describeError(err));
  }
  if (layout === null) {
    return cgroupAccessMessage(
      `no cgroup hierarchy at ${host.path("/sys/fs/cgroup")} ` +
        "(a bind that is not recursive carries no /sys or /proc)",
    );
  }
  try {
    await host.readText("/proc/1/cgroup");
  } catch (err) {
    return cgroupAccessMessage(
      `cannot read ${host.path("/proc/1/cgroup")}, so the host's processes are not visible ` +
        `(${describeError(err)})`,
    );
  }
  let machineMemory = 0;
  try {
    machineMemory = parseMemTotal(await host.readText("/proc/meminfo"));
  } catch (err) {
    log.warning(
      "Cannot read the host's memory ({reason}); a container without a limit reports its " +
        "cgroup's limit",
      { reason: describeError(err) },
    );
  }
  log.info("cgroup v{version} at {path}; sampling every {period} ms", {
    version: layout.version,
    path: host.path("/sys/fs/cgroup"),
    period: options.periodMs,
  });
  return new CgroupSource({
    catalog: options.catalog,
    host,
    layout,
    periodMs: options.periodMs,
    machineMemory,
    watchdogUsec: options.watchdogUsec,
  });
}
