/**
 * A process's cgroups from `/proc/<pid>/cgroup`, and the resolver the container catalog calls
 * with a container's init PID.
 *
 * @module
 */
import type { HostRoot } from "../../host/host_root.ts";

/**
 * Parses `/proc/<pid>/cgroup`: one `hierarchy-ID:controller-list:cgroup-path` line per
 * hierarchy. Keys are the controller lists as written (`cpu,cpuacct`, `memory`,
 * `name=systemd`), and `""` for the v2 unified hierarchy (`0::/path`). The path may itself
 * contain colons.
 *
 * Source: man cgroups(7), "/proc/[pid]/cgroup"; kernel Documentation/admin-guide/cgroup-v2.rst
 * ("Processes", the `0::` entry).
 *
 * @param text the whole file, e.g. `"4:memory:/docker/ba2c...\n0::/docker/ba2c...\n"`.
 * @returns controller list to path.
 * @throws {SyntaxError} for a line without two colons or with a path not starting with `/`.
 * @example parseProcCgroup("0::/system.slice/docker-ab.scope\n") // { "": "/system.slice/docker-ab.scope" }
 */
export function parseProcCgroup(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    const path = line.slice(second + 1);
    if (second < 0 || !path.startsWith("/")) {
      throw new SyntaxError(`Cannot parse /proc/<pid>/cgroup line "${line.slice(0, 80)}"`);
    }
    out[line.slice(first + 1, second)] = path;
  }
  return out;
}

/**
 * The resolver the container catalog takes as `cgroupsOf`: reads `/proc/<pid>/cgroup` through
 * the host root and parses it with {@link parseProcCgroup}.
 *
 * Paths are relative to the cgroup namespace of the reader: the daemon must share the host's
 * (systemd services do; `docker run` needs `--cgroupns host` on cgroup v2, where private is
 * the default). A path that climbs (`/../..`) is kept as read; the source then finds the
 * container by its ID instead (src/source/cgroup/layout.ts).
 *
 * @param host the host root (`--host-root`).
 * @returns `(pid) => Promise<controller list to path>`; the promise rejects with a node `fs`
 *   error (`ENOENT` once the process exited), a Deno permission error, or a SyntaxError.
 */
export function cgroupsResolver(host: HostRoot): (pid: number) => Promise<Record<string, string>> {
  return async (pid) => parseProcCgroup(await host.readText(`/proc/${pid}/cgroup`));
}
