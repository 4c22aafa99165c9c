/**
 * The sampling hot path: one container's cgroup files, opened once and re-read from offset 0
 * into one reused buffer every sample period, parsed for the keys a sample needs.
 *
 * Keeping the files open saves an open and a close per file per period (and the path walk
 * through the host root); cgroup and /proc files are seq_files, so a read at offset 0
 * produces fresh contents (kernel Documentation/filesystems/seq_file.rst). An open cgroup
 * file whose cgroup was removed reads as ENODEV ("No such device"), which marks the container
 * gone; an open `/proc/<pid>/net/dev` keeps reading its network namespace.
 *
 * @module
 */
import type { HostRoot } from "../../host/host_root.ts";
import type { CgroupFigures } from "../../sample.ts";
import { type BlockIo, parseBlkioThrottle, parseIoStat, parseIoStatOps } from "./block_io.ts";
import {
  parseCfsPeriod,
  parseCfsQuota,
  parseCpuacctUsage,
  parseCpuMax,
  parseCpuStatUsage,
  parseCpuThrottling,
} from "./cpu.ts";
import type { CgroupFiles } from "./layout.ts";
import {
  type InactiveFile,
  parseMemoryEvents,
  parseMemoryFailcnt,
  parseMemoryLimit,
  parseMemoryStat,
  parseMemoryUsage,
  parseOomControl,
} from "./memory.ts";
import { type NetIo, parseNetDev } from "./net_dev.ts";
import { parsePidsCurrent, parsePidsMax } from "./pids.ts";
import { parsePressure } from "./pressure.ts";

/** Largest file the buffer grows to, bytes: cgroup files are a few kB. */
const MAX_FILE_BYTES = 1 << 20;

/** One buffer shared by every read of a source: reads are synchronous, one at a time. */
export class ReadBuffer {
  #bytes = new Uint8Array(16 * 1024);
  readonly #decoder = new TextDecoder();

  /**
   * Reads a whole file from offset 0: one `lseek` and one `read` while it fits the buffer (a
   * read that fills the buffer doubles it and reads again).
   * @param file an open file.
   * @returns its text.
   * @throws {RangeError} for a file over 1 MiB; the file's read error as it comes.
   */
  readAll(file: Deno.FsFile): string {
    for (;;) {
      file.seekSync(0, Deno.SeekMode.Start);
      const n = file.readSync(this.#bytes) ?? 0;
      if (n < this.#bytes.length) return this.#decoder.decode(this.#bytes.subarray(0, n));
      if (this.#bytes.length >= MAX_FILE_BYTES) {
        throw new RangeError(`cgroup file over ${MAX_FILE_BYTES} bytes`);
      }
      this.#bytes = new Uint8Array(this.#bytes.length * 2);
    }
  }
}

/** One reading of a container's files. Counters are cumulative since the cgroup was made. */
export interface Reading {
  /**
   * The figures only the cgroup files tell, with the time of the read (`monoMs`, taken right
   * after the CPU counter), CPU time (`cpuUsageNs`) and usage (`memoryUsage`).
   */
  readonly cgroup: CgroupFigures;
  /** The inactive file keys of `memory.stat`, bytes. */
  readonly inactive: InactiveFile;
  /** The cgroup's memory limit, bytes (about 2^63 or 2^64 when unlimited). */
  readonly memoryLimit: number;
  /** Block I/O, bytes (zeros when the file is absent). */
  readonly blockIo: BlockIo;
  /** Tasks (zero when `pids.current` is absent). */
  readonly pids: number;
  /** Network (null for a container without its own network namespace). */
  readonly net: NetIo | null;
}

/** Whether an error means the cgroup or the process went away (not a fault). */
export function isGone(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err instanceof Error && /No such device|os error 19|ESRCH|No such process/.test(err.message));
}

const NO_IO: BlockIo = { read: 0, write: 0 };

/**
 * How often the limit files are re-read, ms. Limits are configuration, changed only by
 * `docker update`; reading them every sample period would cost four of the fourteen reads of a
 * v1 container (bench/cgroup_bench.ts), so a changed limit shows within 10 s instead.
 */
export const LIMITS_EVERY_MS = 10_000;

/** A container's limits, as last read. */
interface Limits {
  /** `memory.limit_in_bytes` / `memory.max`, bytes. */
  readonly memoryLimit: number;
  /** CFS quota and period, µs (null where unlimited or the files are absent). */
  readonly quota: { readonly quotaUs: number | null; readonly periodUs: number | null };
  /** `pids.max`; null when unlimited or absent. */
  readonly pidsLimit: number | null;
}

/** `parse(text)`, or null for a file that is not open. */
function orNull<T>(text: string | null, parse: (text: string) => T): T | null {
  return text === null ? null : parse(text);
}

/**
 * The open files of one container. The CPU time and memory files are required (opening
 * throws); every other file is optional: absent at open (a controller not enabled, a v1 file
 * on v2, no network namespace of its own), its figures are zeros (block I/O, pids, as
 * `docker stats`) or null (the {@link CgroupFigures}).
 */
export class ContainerReader {
  readonly #version: 1 | 2;
  readonly #cpu: Deno.FsFile;
  readonly #memoryUsage: Deno.FsFile;
  readonly #memoryStat: Deno.FsFile;
  readonly #memoryLimit: Deno.FsFile;
  readonly #optional: Record<Exclude<keyof CgroupFiles, RequiredFile>, Deno.FsFile | null>;
  readonly #net: Deno.FsFile | null;
  readonly #opened: Deno.FsFile[] = [];
  #limits: Limits | null = null;
  #limitsAtMs = 0;

  /**
   * Opens the files.
   * @param host the host root the paths are under.
   * @param version the layout's cgroup version (picks the parsers).
   * @param files host paths of the cgroup files.
   * @param netDev host path of `/proc/<pid>/net/dev`, or null for none (network mode `host`).
   * @throws the open error of a CPU time or memory file (`Deno.errors.NotFound` when gone), or
   *   any other error than NotFound for the optional ones; nothing stays open after a throw.
   */
  constructor(host: HostRoot, version: 1 | 2, files: CgroupFiles, netDev: string | null) {
    this.#version = version;
    const open = (path: string | null) => path === null ? null : this.#open(host, path, false);
    try {
      this.#cpu = this.#open(host, files.cpu, true)!;
      this.#memoryUsage = this.#open(host, files.memoryUsage, true)!;
      this.#memoryStat = this.#open(host, files.memoryStat, true)!;
      this.#memoryLimit = this.#open(host, files.memoryLimit, true)!;
      this.#optional = {
        cpuStat: open(files.cpuStat),
        cpuQuota: open(files.cpuQuota),
        cpuPeriod: open(files.cpuPeriod),
        memoryEvents: open(files.memoryEvents),
        memoryFailcnt: open(files.memoryFailcnt),
        blkio: open(files.blkio),
        blkioOps: open(files.blkioOps),
        pids: open(files.pids),
        pidsMax: open(files.pidsMax),
        cpuPressure: open(files.cpuPressure),
        memoryPressure: open(files.memoryPressure),
        ioPressure: open(files.ioPressure),
      };
      this.#net = open(netDev);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /**
   * Reads every file once, each with one `read` into the source's buffer; the limit files only
   * at the first read and then once per {@link LIMITS_EVERY_MS}. The CPU counter is read first
   * and timed.
   * @param buffer the source's buffer.
   * @param monotonic the clock for {@link CgroupFigures.monoMs}, milliseconds.
   * @throws a read error ({@link isGone} tells a removed cgroup) or a SyntaxError from a parser.
   */
  read(buffer: ReadBuffer, monotonic: () => number): Reading {
    const v1 = this.#version === 1;
    const o = this.#optional;
    const text = (file: Deno.FsFile | null) => file === null ? null : buffer.readAll(file);
    const cpuText = buffer.readAll(this.#cpu);
    const monoMs = monotonic();
    const cpuUsageNs = v1 ? parseCpuacctUsage(cpuText) : parseCpuStatUsage(cpuText);
    const memoryUsage = parseMemoryUsage(buffer.readAll(this.#memoryUsage));
    const stat = parseMemoryStat(buffer.readAll(this.#memoryStat), this.#version);
    if (this.#limits === null || monoMs - this.#limitsAtMs >= LIMITS_EVERY_MS) {
      this.#limits = this.#readLimits(text);
      this.#limitsAtMs = monoMs;
    }
    const { memoryLimit, quota, pidsLimit } = this.#limits;
    const throttling = parseCpuThrottling((v1 ? text(o.cpuStat) : cpuText) ?? "");
    const eventsText = text(o.memoryEvents);
    const events = v1
      ? {
        oomKill: orNull(eventsText, parseOomControl),
        max: orNull(text(o.memoryFailcnt), parseMemoryFailcnt),
      }
      : parseMemoryEvents(eventsText ?? "");
    const blkioText = text(o.blkio);
    const blockIo = blkioText === null
      ? NO_IO
      : v1
      ? parseBlkioThrottle(blkioText)
      : parseIoStat(blkioText);
    const ops = v1
      ? orNull(text(o.blkioOps), parseBlkioThrottle)
      : orNull(blkioText, parseIoStatOps);
    const pids = orNull(text(o.pids), parsePidsCurrent) ?? 0;
    const cpuPressure = parsePressure(text(o.cpuPressure) ?? "");
    const memoryPressure = parsePressure(text(o.memoryPressure) ?? "");
    const ioPressure = parsePressure(text(o.ioPressure) ?? "");
    const net = orNull(text(this.#net), parseNetDev);
    return {
      cgroup: {
        monoMs,
        cpuUsageNs,
        cpuQuotaUs: quota.quotaUs,
        cpuPeriodUs: quota.periodUs,
        cpuPeriods: throttling.periods,
        cpuThrottledPeriods: throttling.throttledPeriods,
        cpuThrottledUs: throttling.throttledUs,
        memoryUsage,
        memoryAnon: stat.anon,
        memoryFile: stat.file,
        memoryMaxEvents: events.max,
        oomKills: events.oomKill,
        pgmajfault: stat.pgmajfault,
        cpuPressureSomeUs: cpuPressure.someUs,
        memoryPressureSomeUs: memoryPressure.someUs,
        memoryPressureFullUs: memoryPressure.fullUs,
        ioPressureSomeUs: ioPressure.someUs,
        ioPressureFullUs: ioPressure.fullUs,
        netRxPackets: net?.rxPackets ?? null,
        netTxPackets: net?.txPackets ?? null,
        netRxErrors: net?.rxErrors ?? null,
        netTxErrors: net?.txErrors ?? null,
        netRxDropped: net?.rxDropped ?? null,
        netTxDropped: net?.txDropped ?? null,
        blockReads: ops?.read ?? null,
        blockWrites: ops?.write ?? null,
        pidsLimit,
      },
      inactive: stat,
      memoryLimit,
      blockIo,
      pids,
      net,
    };
  }

  /** The limit files: memory, CPU quota and period, tasks. */
  #readLimits(text: (file: Deno.FsFile | null) => string | null): Limits {
    const o = this.#optional;
    const quotaText = text(o.cpuQuota);
    return {
      memoryLimit: parseMemoryLimit(text(this.#memoryLimit)!),
      quota: this.#version === 1
        ? {
          quotaUs: orNull(quotaText, parseCfsQuota),
          periodUs: orNull(text(o.cpuPeriod), parseCfsPeriod),
        }
        : quotaText === null
        ? { quotaUs: null, periodUs: null }
        : parseCpuMax(quotaText),
      pidsLimit: orNull(text(o.pidsMax), parsePidsMax),
    };
  }

  /** Closes every file. Safe to call twice. */
  close(): void {
    for (const file of this.#opened.splice(0)) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
  }

  #open(host: HostRoot, abs: string, required: boolean): Deno.FsFile | null {
    try {
      const file = Deno.openSync(host.path(abs), { read: true });
      this.#opened.push(file);
      return file;
    } catch (err) {
      if (!required && err instanceof Deno.errors.NotFound) return null;
      throw err;
    }
  }
}

/** The files every reader must open. */
type RequiredFile = "cpu" | "memoryUsage" | "memoryStat" | "memoryLimit";
