/**
 * Docker helpers for the benchmarks. Every container made here is named `statsd-bench-...`
 * (the engine is shared: nothing else is touched), from the `busybox:local` image.
 */
import { BUSYBOX_IMAGE, ensureBusyboxImage, sh } from "../../tests/helpers/docker.ts";

export { BUSYBOX_IMAGE, ensureBusyboxImage, sh };

/** Every benchmark container's name starts with this. */
export const PREFIX = "statsd-bench-";

function checkName(name: string): void {
  if (!name.startsWith(PREFIX)) throw new Error(`container name ${name} lacks ${PREFIX}`);
}

/**
 * Busybox shell loop that burns "a little CPU": `spin` iterations of shell arithmetic, then a
 * 1 s sleep, forever (a few percent of one core on this machine; see the footprint report).
 */
export function burnerCommand(spin: number): string {
  return `while :; do i=0; while [ $i -lt ${spin} ]; do i=$((i+1)); done; sleep 1; done`;
}

/** `docker run -d --name <name> [extra] busybox:local sh -c <command>`; returns the ID. */
export function runContainer(name: string, command: string, extra: string[] = []): Promise<string> {
  checkName(name);
  return sh("docker", ["run", "-d", "--name", name, ...extra, BUSYBOX_IMAGE, "sh", "-c", command]);
}

/** Runs `fns` with at most `limit` in flight. */
export async function pool<T>(limit: number, fns: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(fns.length);
  let next = 0;
  const worker = async () => {
    while (next < fns.length) {
      const i = next++;
      out[i] = await fns[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, fns.length) }, worker));
  return out;
}

/**
 * Starts `n` containers `<prefix>000`...: every `burnEvery`-th one burns a little CPU, the rest
 * sleep. Returns their names.
 */
export async function startFleet(
  prefix: string,
  n: number,
  burnEvery: number,
  spin: number,
): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`);
  await pool(
    4,
    names.map((name, i) => () =>
      runContainer(name, i % burnEvery === 0 ? burnerCommand(spin) : "sleep 86400")
    ),
  );
  return names;
}

/** Names of containers (any state) whose name starts with `prefix`. */
export async function listContainers(prefix: string): Promise<string[]> {
  checkName(prefix);
  const out = await sh("docker", [
    "ps",
    "-a",
    "--format",
    "{{.Names}}",
    "--filter",
    `name=^${prefix}`,
  ])
    .catch(() => "");
  return out.split("\n").filter((n) => n.startsWith(prefix));
}

/** Force-removes every container whose name starts with `prefix` (which must be ours). */
export async function removeContainers(prefix: string): Promise<void> {
  checkName(prefix);
  const names = await listContainers(prefix);
  for (let i = 0; i < names.length; i += 50) {
    await sh("docker", ["rm", "-f", ...names.slice(i, i + 50)]).catch(() => "");
  }
}

/** Other `docker stats` processes on the machine (not ours): noise to report. */
export function foreignStatsClients(ours: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (ours.has(pid)) continue;
    try {
      const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
      if (/(^|\/)docker$/.test(args[0] ?? "") && args.includes("stats")) out.push(pid);
    } catch { /* gone */ }
  }
  return out;
}
