/** The machine and tool versions, for the report. */

/** What the report says about where it ran. */
export interface Environment {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  os: string;
  deno: string;
  v8: string;
  dockerClient: string;
  dockerServer: string;
  storageDriver: string;
  cgroup: string;
  questdb: string;
  clkTck: number;
  /** Commit of the work tree, and the files under src/ or main.ts that differ from it. */
  commit: string;
  uncommitted: string[];
}

async function out(cmd: string, args: string[]): Promise<string> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(o.stdout).trim();
  } catch {
    return "";
  }
}

/** Reads the environment. */
export async function readEnvironment(
  questdbJar: string | null,
  clkTck: number,
): Promise<Environment> {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const meminfo = Deno.readTextFileSync("/proc/meminfo");
  const osRelease = (() => {
    try {
      return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(Deno.readTextFileSync("/etc/os-release"))?.[1] ??
        "";
    } catch {
      return "";
    }
  })();
  const memKiB = Number(/^MemTotal:\s+(\d+)/m.exec(meminfo)?.[1] ?? 0);
  const cgroup2 = (() => {
    try {
      Deno.statSync("/sys/fs/cgroup/cgroup.controllers");
      return "v2";
    } catch {
      return "v1";
    }
  })();
  return {
    date: new Date().toISOString(),
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown",
    cores: navigator.hardwareConcurrency,
    memoryGiB: Math.round(memKiB / 1024 / 1024 * 10) / 10,
    kernel: await out("uname", ["-r"]),
    os: osRelease,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    dockerClient: await out("docker", ["version", "--format", "{{.Client.Version}}"]),
    dockerServer: await out("docker", ["version", "--format", "{{.Server.Version}}"]),
    storageDriver: await out("docker", ["info", "--format", "{{.Driver}}"]),
    cgroup: cgroup2,
    questdb: questdbJar ? /questdb-([\d.]+)\.jar$/.exec(questdbJar)?.[1] ?? questdbJar : "none",
    clkTck,
    commit: await out("git", ["rev-parse", "--short", "HEAD"]),
    uncommitted: (await out("git", ["status", "--porcelain", "--", "src", "main.ts"]))
      .split("\n").filter((l) => l.trim() !== "").map((l) => l.slice(3)),
  };
}
