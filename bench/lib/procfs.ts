/**
 * Process-tree accounting from /proc: CPU time (utime + stime, in clock ticks) and resident
 * memory (VmRSS) of a process and all its descendants.
 *
 * CPU of a tree at one instant = for every live process in the tree, its own utime + stime
 * plus cutime + cstime (the CPU of its children that already exited and were waited for). So a
 * short-lived child (e.g. a `docker version` probe) is counted once, through its parent,
 * whether or not a sample caught it alive.
 */

/** Clock ticks per second (`getconf CLK_TCK`). */
export function clockTicks(): number {
  const out = new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).outputSync();
  const n = Number(new TextDecoder().decode(out.stdout).trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
}

/** The fields of /proc/<pid>/stat the benchmark uses. */
export interface ProcStat {
  pid: number;
  comm: string;
  ppid: number;
  /** Ticks in user mode. */
  utime: number;
  /** Ticks in kernel mode. */
  stime: number;
  /** Ticks of waited-for children, user mode. */
  cutime: number;
  /** Ticks of waited-for children, kernel mode. */
  cstime: number;
  /** Start time after boot, ticks (with `pid` it names a process uniquely). */
  starttime: number;
}

/** Reads /proc/<pid>/stat, or null when the process is gone. */
export function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return null;
  }
  // comm is in parentheses and may hold spaces or parentheses: split after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const f = text.slice(close + 2).split(" ");
  // f[0] is field 3 (state); field n is f[n - 3].
  const num = (field: number) => Number(f[field - 3]);
  return {
    pid,
    comm,
    ppid: num(4),
    utime: num(14),
    stime: num(15),
    cutime: num(16),
    cstime: num(17),
    starttime: num(22),
  };
}

/** VmRSS of a process in KiB, or 0 when gone (or a kernel thread). */
export function readRssKiB(pid: number): number {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(text);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Direct children of `pid`, from /proc/<pid>/task/<tid>/children of all its threads. */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: Deno.DirEntry[];
  try {
    tasks = [...Deno.readDirSync(`/proc/${pid}/task`)];
  } catch {
    return out;
  }
  for (const t of tasks) {
    try {
      const text = Deno.readTextFileSync(`/proc/${pid}/task/${t.name}/children`).trim();
      if (text) { for (const c of text.split(/\s+/)) out.push(Number(c)); }
    } catch { /* thread gone */ }
  }
  return out;
}

/** `pid` and all its descendants (breadth first). */
export function treeOf(pid: number): number[] {
  const all: number[] = [];
  const queue = [pid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (seen.has(p)) continue;
    seen.add(p);
    all.push(p);
    queue.push(...childrenOf(p));
  }
  return all;
}

/** One reading of a process tree. */
export interface TreeReading {
  /** Milliseconds (performance.now) when read. */
  at: number;
  /** CPU ticks of the whole tree, exited-and-waited children included. */
  cpuTicks: number;
  /** Sum of VmRSS over the live tree, KiB. */
  rssKiB: number;
  /** VmRSS of the root process alone, KiB. */
  rootRssKiB: number;
  /** CPU ticks of the root process alone (without children). */
  rootCpuTicks: number;
  /** Processes in the tree. */
  processes: number;
}

/** Reads the tree rooted at `pid` now; null when the root is gone. */
export function readTree(pid: number): TreeReading | null {
  const root = readStat(pid);
  if (root === null) return null;
  let cpu = 0;
  let rss = 0;
  let n = 0;
  for (const p of treeOf(pid)) {
    const s = p === pid ? root : readStat(p);
    if (s === null) continue;
    cpu += s.utime + s.stime + s.cutime + s.cstime;
    rss += readRssKiB(p);
    n++;
  }
  return {
    at: performance.now(),
    cpuTicks: cpu,
    rssKiB: rss,
    rootRssKiB: readRssKiB(pid),
    rootCpuTicks: root.utime + root.stime,
    processes: n,
  };
}

/** CPU ticks (own + waited children) of a set of processes, e.g. the engine's. */
export function cpuTicksOf(pids: readonly number[]): number {
  let cpu = 0;
  for (const p of pids) {
    const s = readStat(p);
    if (s) cpu += s.utime + s.stime + s.cutime + s.cstime;
  }
  return cpu;
}

/** PIDs of processes whose comm is `comm` exactly. */
export function pidsByComm(comm: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const c = Deno.readTextFileSync(`/proc/${e.name}/comm`).trim();
      if (c === comm) out.push(Number(e.name));
    } catch { /* gone */ }
  }
  return out.sort((a, b) => a - b);
}

/**
 * Samples a process tree every `everyMs` until stopped. The last reading is taken on `stop()`
 * (call it before signalling the process, so shutdown work is not counted).
 */
export class TreeSampler {
  readonly readings: TreeReading[] = [];
  readonly #pid: number;
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(pid: number, everyMs = 1000) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), everyMs);
  }

  #sample(): void {
    const r = readTree(this.#pid);
    if (r) this.readings.push(r);
  }

  /** Takes a final reading and stops. */
  stop(): TreeReading[] {
    clearInterval(this.#timer);
    this.#sample();
    return this.readings;
  }
}
