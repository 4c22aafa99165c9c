/**
 * Startup of the cgroup source: checks that the host's cgroups and processes are readable
 * under `--host-root`, finds the layout and the host's memory, and builds the source; or says
 * in one line why not and how to fix it.
 *
 * @module
 */
import { getLogger } from "@logtape/logtape";
import type { CatalogView } from "../../catalog/container.ts";
import { describeError } from "../../errors.ts";
import { HostRoot } from "../../host/host_root.ts";
import { type CgroupLayout, detectLayout } from "./layout.ts";
import { parseMemTotal } from "./memory.ts";
import { CgroupSource } from "./source.ts";

const log = getLogger(["container-statsd", "source", "cgroup"]);

/**
 * The fixes named by {@link cgroupAccessMessage}. On the host the daemon reads `/sys` and
 * `/proc` itself: Deno opens them only with every permission (deno task start, the compiled
 * binary, run.sh and the systemd units give it), and the containers' processes must be visible
 * (not hidden by `hidepid` or systemd's `ProtectProc=invisible`). In a container it reads the
 * host's under a recursive bind given as `--host-root`.
 */
export const CGROUP_ACCESS_FIX = "on the host, run the daemon with --allow-all (deno task start " +
  "and the compiled binary have it) where the containers' processes are visible in /proc " +
  "(systemd: ProtectProc=default; no hidepid); in a container: docker run -v /:/host:ro,rslave " +
  "--pid host --cgroupns host ... --host-root /host";

/**
 * The one-line startup error of `--source cgroup`.
 * @param problem what could not be read, e.g. `no cgroup hierarchy at /x/sys/fs/cgroup`.
 * @returns `cgroup source: <problem>; <fix>` ({@link CGROUP_ACCESS_FIX}).
 */
export function cgroupAccessMessage(problem: string): string {
  return `cgroup source: ${problem}; ${CGROUP_ACCESS_FIX}`;
}

/**
 * The host's cgroup layout, checked as `--source cgroup` needs it: a cgroup hierarchy under the
 * root (a bind that is not recursive carries none) and `/proc/1/cgroup` readable (the host's
 * processes are visible).
 *
 * @param host the host root.
 * @returns the layout, or what could not be read (one line, for {@link cgroupAccessMessage}),
 *   e.g. Deno's `Requires all access to "/sys/fs/cgroup/...", run again with the --allow-all
 *   flag`. Never rejects.
 */
async function readableLayout(host: HostRoot): Promise<CgroupLayout | string> {
  let layout;
  try {
    layout = detectLayout(host);
  } catch (err) {
    return describeError(err);
  }
  if (layout === null) {
    return `no cgroup hierarchy at ${host.path("/sys/fs/cgroup")} ` +
      "(a bind that is not recursive carries no /sys or /proc)";
  }
  try {
    await host.readText("/proc/1/cgroup");
  } catch (err) {
    return `cannot read ${host.path("/proc/1/cgroup")}, so the host's processes are not ` +
      `visible (${describeError(err)})`;
  }
  return layout;
}

/**
 * For a daemon on `--source docker`: when the host's cgroups are readable (as
 * {@link openCgroupSource} needs them), says once at info that `--source cgroup` would see the
 * short jobs `docker stats` misses on a busy engine, for about a twentieth of the host CPU
 * (README "Which source"; BENCHMARKS.md). Says nothing otherwise. Never rejects.
 *
 * @param hostRoot `--host-root`.
 */
export async function suggestCgroupSource(hostRoot: string): Promise<void> {
  if (typeof await readableLayout(new HostRoot(hostRoot)) === "string") return;
  log.info(
    "This host's cgroups are readable: --source cgroup would also see short-lived containers, " +
      "which docker stats misses on a busy engine, for about a twentieth of the host CPU " +
      "(README: Which source)",
  );
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
 * Checks access and builds the source. Two checks, each a reason to stop at startup: a cgroup
 * layout is found under the root (Deno opens `/sys` only with `--allow-all`; a bind that is
 * not recursive carries no /sys), and `/proc/1/cgroup` reads (the host's processes are
 * visible: systemd's `ProtectProc=invisible` hides those of other users). The host's MemTotal
 * is read from `/proc/meminfo` (a failure only logs: unlimited containers then report the
 * cgroup's limit).
 *
 * @returns the source, or the one-line error ({@link cgroupAccessMessage}) for the caller to
 *   log before exiting 1. Never rejects.
 */
export async function openCgroupSource(
  options: OpenCgroupSourceOptions,
): Promise<CgroupSource | string> {
  const host = new HostRoot(options.hostRoot);
  const layout = await readableLayout(host);
  if (typeof layout === "string") return cgroupAccessMessage(layout);
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
