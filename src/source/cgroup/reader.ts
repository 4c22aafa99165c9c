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
import { type BlockIo, parseBlkioServiceBytes, parseIoStat } from "./block_io.ts";
import { parseCpuacctUsage, parseCpuStatUsage } from "./cpu.ts";
import type { CgroupFiles } from "./layout.ts";
import {
  type InactiveFile,
  parseMemoryLimit,
  parseMemoryStat,
  parseMemoryUsage,
} from "./memory.ts";
import { type NetIo, parseNetDev } from "./net_dev.ts";
import { parsePidsCurrent } from "./pids.ts";

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
  /** When the CPU counter was read: monotonic clock, milliseconds. */
  readonly atMs: number;
  /** CPU time, nanoseconds. */
  readonly cpuNs: number;
  /** `memory.usage_in_bytes` / `memory.current`, bytes. */
  readonly memoryUsage: number;
  /** The inactive file keys of `memory.stat`, bytes. */
  readonly inactive: InactiveFile;
  /** The cgroup's memory limit, bytes (about 2^63 or 2^64 when unlimited). */
  readonly memoryLimit: number;
  /** Block I/O, bytes (zeros when the file is absent). */
  readonly blockIo: BlockIo;
  /** Tasks (zero when `pids.current` is absent). */
  readonly pids: number;
  /** Network, bytes (zeros for a container without its own network namespace). */
  readonly net: NetIo;
}

/** Whether an error means the cgroup or the process went away (not a fault). */
export function isGone(err: unknown): boolean {
  return err instanceof Deno.errors.NotFound ||
    (err instanceof Error && /No such device|os error 19|ESRCH|No such process/.test(err.message));
}

const NO_IO: BlockIo = { read: 0, write: 0 };
const NO_NET: NetIo = { rx: 0, tx: 0 };

/**
 * The open files of one container. CPU and memory files are required (opening throws); block
 * I/O, pids and net/dev are read as zeros when absent (a controller not enabled, or no network
 * namespace of its own).
 */
export class ContainerReader {
  readonly #version: 1 | 2;
  readonly #cpu: Deno.FsFile;
  readonly #memoryUsage: Deno.FsFile;
  readonly #memoryStat: Deno.FsFile;
  readonly #memoryLimit: Deno.FsFile;
  readonly #blkio: Deno.FsFile | null;
  readonly #pids: Deno.FsFile | null;
  readonly #net: Deno.FsFile | null;
  readonly #opened: Deno.FsFile[] = [];

  /**
   * Opens the files.
   * @param host the host root the paths are under.
   * @param version the layout's cgroup version (picks the parsers).
   * @param files host paths of the cgroup files.
   * @param netDev host path of `/proc/<pid>/net/dev`, or null for none (network mode `host`).
   * @throws the open error of a CPU or memory file (`Deno.errors.NotFound` when gone), or any
   *   other error than NotFound for the optional ones; nothing stays open after a throw.
   */
  constructor(host: HostRoot, version: 1 | 2, files: CgroupFiles, netDev: string | null) {
    this.#version = version;
    try {
      this.#cpu = this.#open(host, files.cpu, true)!;
      this.#memoryUsage = this.#open(host, files.memoryUsage, true)!;
      this.#memoryStat = this.#open(host, files.memoryStat, true)!;
      this.#memoryLimit = this.#open(host, files.memoryLimit, true)!;
      this.#blkio = this.#open(host, files.blkio, false);
      this.#pids = this.#open(host, files.pids, false);
      this.#net = netDev === null ? null : this.#open(host, netDev, false);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /**
   * Reads every file once. The CPU counter is read first and timed.
   * @param buffer the source's buffer.
   * @param monotonic the clock for {@link Reading.atMs}, milliseconds.
   * @throws a read error ({@link isGone} tells a removed cgroup) or a SyntaxError from a parser.
   */
  read(buffer: ReadBuffer, monotonic: () => number): Reading {
    const v1 = this.#version === 1;
    const cpuText = buffer.readAll(this.#cpu);
    const atMs = monotonic();
    return {
      atMs,
      cpuNs: v1 ? parseCpuacctUsage(cpuText) : parseCpuStatUsage(cpuText),
      memoryUsage: parseMemoryUsage(buffer.readAll(this.#memoryUsage)),
      inactive: parseMemoryStat(buffer.readAll(this.#memoryStat)),
      memoryLimit: parseMemoryLimit(buffer.readAll(this.#memoryLimit)),
      blockIo: this.#blkio === null
        ? NO_IO
        : v1
        ? parseBlkioServiceBytes(buffer.readAll(this.#blkio))
        : parseIoStat(buffer.readAll(this.#blkio)),
      pids: this.#pids === null ? 0 : parsePidsCurrent(buffer.readAll(this.#pids)),
      net: this.#net === null ? NO_NET : parseNetDev(buffer.readAll(this.#net)),
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
