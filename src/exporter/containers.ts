/**
 * The container metrics of `/metrics`: the latest read of each container, under cAdvisor's
 * names, units, types and labels (cAdvisor lib/metrics/prometheus.go), raw cumulative counters
 * and gauges, never the reducer's interval rows. docs/prometheus.md lists them.
 *
 * @module
 */
import type { ContainerCatalog } from "../catalog/catalog.ts";
import type { ContainerInfo } from "../catalog/container.ts";
import { admits } from "../catalog/gate.ts";
import type { LabelColumn } from "../catalog/labels.ts";
import type { CgroupFigures, Sample } from "../sample.ts";
import type { SampleListener } from "../source/source.ts";
import { type Exposition, type FamilyDecl, labelPairs, sanitizeLabelName } from "./exposition.ts";

/** The latest read of one container. */
export interface LatestRead {
  /** The sample. */
  readonly sample: Sample;
  /** Its arrival time, ms since the epoch. */
  readonly atMs: number;
  /**
   * CPU time used, seconds: `cgroup.cpuUsageNs` when the read has it, else CPU percent
   * integrated over the read windows since the exporter first saw the container.
   */
  readonly cpuSeconds: number;
  /** The catalog's record, if the container is known. */
  readonly info: ContainerInfo | undefined;
  /** The inside of its label set (`container_label_*`, `host`, `id`, `image`, `name`). */
  readonly labels: string;
  /** The memory limit, bytes; 0 for none (cAdvisor's `specMemoryValue`). */
  readonly memoryLimit: number;
}

/** One container family: its declaration, extra labels, and the value of a read. */
interface ContainerFamily extends FamilyDecl {
  /** Labels after the container's, e.g. `cpu="total"`. */
  readonly extra?: string;
  /** The value, or null/undefined when the read does not have it (the series is left out). */
  readonly value: (r: LatestRead, c: CgroupFigures | undefined) => number | null | undefined;
}

const US = 1e-6;
const withQuota = (c: CgroupFigures | undefined, v: number | null | undefined) =>
  c?.cpuQuotaUs != null ? v : null;

/**
 * cAdvisor's families for the quantities a {@link Sample} has, in cAdvisor's order. Help texts
 * are cAdvisor's. A figure a source lacks (every `cgroup` one with `--source docker`) leaves
 * its series out.
 */
export const CONTAINER_FAMILIES: readonly ContainerFamily[] = [
  {
    name: "container_last_seen",
    type: "gauge",
    help: "Last time a container was seen by the exporter",
    value: (r) => r.atMs / 1000,
  },
  {
    name: "container_cpu_usage_seconds_total",
    type: "counter",
    help: "Cumulative cpu time consumed in seconds.",
    extra: 'cpu="total"',
    value: (r) => r.cpuSeconds,
  },
  {
    name: "container_cpu_cfs_periods_total",
    type: "counter",
    help: "Number of elapsed enforcement period intervals.",
    value: (_, c) => withQuota(c, c?.cpuPeriods),
  },
  {
    name: "container_cpu_cfs_throttled_periods_total",
    type: "counter",
    help: "Number of throttled period intervals.",
    value: (_, c) => withQuota(c, c?.cpuThrottledPeriods),
  },
  {
    name: "container_cpu_cfs_throttled_seconds_total",
    type: "counter",
    help: "Total time duration the container has been throttled.",
    value: (_, c) => withQuota(c, c?.cpuThrottledUs == null ? null : c.cpuThrottledUs * US),
  },
  {
    name: "container_memory_cache",
    type: "gauge",
    help: "Number of bytes of page cache memory.",
    value: (_, c) => c?.memoryFile,
  },
  {
    name: "container_memory_rss",
    type: "gauge",
    help: "Size of RSS in bytes.",
    value: (_, c) => c?.memoryAnon,
  },
  {
    name: "container_memory_failcnt",
    type: "counter",
    help: "Number of memory usage hits limits",
    value: (_, c) => c?.memoryMaxEvents,
  },
  {
    name: "container_memory_usage_bytes",
    type: "gauge",
    help: "Current memory usage in bytes, including all memory regardless of when it was accessed",
    value: (_, c) => c?.memoryUsage,
  },
  {
    name: "container_memory_working_set_bytes",
    type: "gauge",
    help: "Current working set in bytes.",
    value: (r) => r.sample.memoryUse,
  },
  {
    name: "container_memory_failures_total",
    type: "counter",
    help: "Cumulative count of memory allocation failures.",
    extra: 'failure_type="pgmajfault",scope="hierarchy"',
    value: (_, c) => c?.pgmajfault,
  },
  {
    name: "container_fs_reads_bytes_total",
    type: "counter",
    help: "Cumulative count of bytes read",
    value: (r) => r.sample.blockIn,
  },
  {
    name: "container_fs_reads_total",
    type: "counter",
    help: "Cumulative count of reads completed",
    value: (_, c) => c?.blockReads,
  },
  {
    name: "container_fs_writes_bytes_total",
    type: "counter",
    help: "Cumulative count of bytes written",
    value: (r) => r.sample.blockOut,
  },
  {
    name: "container_fs_writes_total",
    type: "counter",
    help: "Cumulative count of writes completed",
    value: (_, c) => c?.blockWrites,
  },
  {
    name: "container_network_receive_bytes_total",
    type: "counter",
    help: "Cumulative count of bytes received",
    value: (r) => r.sample.netIn,
  },
  {
    name: "container_network_receive_packets_total",
    type: "counter",
    help: "Cumulative count of packets received",
    value: (_, c) => c?.netRxPackets,
  },
  {
    name: "container_network_receive_packets_dropped_total",
    type: "counter",
    help: "Cumulative count of packets dropped while receiving",
    value: (_, c) => c?.netRxDropped,
  },
  {
    name: "container_network_receive_errors_total",
    type: "counter",
    help: "Cumulative count of errors encountered while receiving",
    value: (_, c) => c?.netRxErrors,
  },
  {
    name: "container_network_transmit_bytes_total",
    type: "counter",
    help: "Cumulative count of bytes transmitted",
    value: (r) => r.sample.netOut,
  },
  {
    name: "container_network_transmit_packets_total",
    type: "counter",
    help: "Cumulative count of packets transmitted",
    value: (_, c) => c?.netTxPackets,
  },
  {
    name: "container_network_transmit_packets_dropped_total",
    type: "counter",
    help: "Cumulative count of packets dropped while transmitting",
    value: (_, c) => c?.netTxDropped,
  },
  {
    name: "container_network_transmit_errors_total",
    type: "counter",
    help: "Cumulative count of errors encountered while transmitting",
    value: (_, c) => c?.netTxErrors,
  },
  {
    name: "container_threads",
    type: "gauge",
    help: "Number of threads running inside the container",
    value: (r) => r.sample.pids,
  },
  {
    name: "container_threads_max",
    type: "gauge",
    help: "Maximum number of threads allowed inside the container, infinity if value is zero",
    value: (_, c) => c === undefined ? null : c.pidsLimit ?? 0,
  },
  {
    name: "container_oom_events_total",
    type: "counter",
    help: "Count of out of memory events observed for the container",
    value: (_, c) => c?.oomKills,
  },
  {
    name: "container_pressure_cpu_waiting_seconds_total",
    type: "counter",
    help: "Total time duration tasks in the container have waited due to CPU congestion.",
    value: (_, c) => c?.cpuPressureSomeUs == null ? null : c.cpuPressureSomeUs * US,
  },
  {
    name: "container_pressure_memory_stalled_seconds_total",
    type: "counter",
    help: "Total time duration no tasks in the container could make progress due to memory " +
      "congestion.",
    value: (_, c) => c?.memoryPressureFullUs == null ? null : c.memoryPressureFullUs * US,
  },
  {
    name: "container_pressure_memory_waiting_seconds_total",
    type: "counter",
    help: "Total time duration tasks in the container have waited due to memory congestion.",
    value: (_, c) => c?.memoryPressureSomeUs == null ? null : c.memoryPressureSomeUs * US,
  },
  {
    name: "container_pressure_io_stalled_seconds_total",
    type: "counter",
    help: "Total time duration no tasks in the container could make progress due to IO " +
      "congestion.",
    value: (_, c) => c?.ioPressureFullUs == null ? null : c.ioPressureFullUs * US,
  },
  {
    name: "container_pressure_io_waiting_seconds_total",
    type: "counter",
    help: "Total time duration tasks in the container have waited due to IO congestion.",
    value: (_, c) => c?.ioPressureSomeUs == null ? null : c.ioPressureSomeUs * US,
  },
  {
    name: "container_start_time_seconds",
    type: "gauge",
    help: "Start time of the container since unix epoch in seconds.",
    value: (r) => r.info?.startedAtMs ? r.info.startedAtMs / 1000 : null,
  },
  {
    name: "container_spec_cpu_period",
    type: "gauge",
    help: "CPU period of the container.",
    value: (_, c) => c?.cpuPeriodUs,
  },
  {
    name: "container_spec_cpu_quota",
    type: "gauge",
    help: "CPU quota of the container.",
    value: (_, c) => c?.cpuQuotaUs,
  },
  {
    name: "container_spec_memory_limit_bytes",
    type: "gauge",
    help: "Memory limit for the container.",
    value: (r) => r.memoryLimit,
  },
];

/** Options of {@link LatestReads}. */
export interface LatestReadsOptions {
  /** `--label`: the label keys exported as `container_label_<key>`. */
  labels: readonly Pick<LabelColumn, "key">[];
  /** Value of a `host` label on every container series, or null for none (the default). */
  host: string | null;
  /**
   * The host's memory, bytes (MemTotal), or 0 when unknown. Both sources report a container
   * without a memory limit as having the host's memory (moby daemon/stats_collector.go); such a
   * limit, within the CLI's rounding (0.5 %), is exported as 0, as cAdvisor does.
   */
  hostMemory?: number;
}

/** Most IDs remembered as gone; beyond it the memory is cleared. */
const GONE_LIMIT = 4096;

/**
 * Keeps the latest read of each container, and drops a container's series
 * when the catalog announces its `stop` (a late sample of it is ignored until it starts
 * again). Rendering is synchronous, so a removal can never interleave with a scrape.
 */
export class LatestReads {
  readonly #reads = new Map<string, LatestRead>();
  readonly #gone = new Set<string>();
  readonly #labelNames: readonly (readonly [string, string])[];
  readonly #host: string | null;
  readonly #hostMemory: number;
  #catalog: Pick<ContainerCatalog, "get" | "known" | "passes"> | null = null;
  /** Samples taken, for `container_statsd_samples_read_total`. */
  samples = 0;

  /** Makes an empty store. */
  constructor(options: LatestReadsOptions) {
    const seen = new Set<string>();
    const names: [string, string][] = [];
    for (const { key } of options.labels) {
      const name = "container_label_" + sanitizeLabelName(key);
      if (seen.has(name)) continue; // two keys with one sanitised name: the first wins (cAdvisor)
      seen.add(name);
      names.push([key, name]);
    }
    this.#labelNames = names.sort((a, b) => a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
    this.#host = options.host;
    this.#hostMemory = options.hostMemory ?? 0;
  }

  /** Containers with a read. */
  get size(): number {
    return this.#reads.size;
  }

  /**
   * Follows the catalog: its records give labels and start times; `stop` drops the series,
   * `start` lets them come back, `update` (rename, labels) relabels them.
   * @returns a function that unsubscribes.
   */
  follow(catalog: Pick<ContainerCatalog, "get" | "subscribe" | "known" | "passes">): () => void {
    this.#catalog = catalog;
    return catalog.subscribe((change) => {
      const id = change.container.id;
      if (change.kind === "stop") {
        this.#reads.delete(id);
        if (this.#gone.size >= GONE_LIMIT) this.#gone.clear();
        this.#gone.add(id);
      } else if (change.kind === "start") {
        this.#gone.delete(id);
      } else {
        const r = this.#reads.get(id);
        if (r) this.#reads.set(id, this.#relabel(r, r.sample, change.container));
      }
    });
  }

  /** Takes a sample (a {@link SampleListener}). */
  readonly add: SampleListener = (sample, atMs) => {
    this.samples++;
    const id = sample.id;
    if (this.#gone.has(id)) return;
    const prev = this.#reads.get(id);
    let cpuSeconds: number;
    if (sample.cgroup) cpuSeconds = sample.cgroup.cpuUsageNs / 1e9;
    else {
      cpuSeconds = prev?.cpuSeconds ?? 0;
      if (prev && sample.cpu !== null && atMs > prev.atMs) {
        cpuSeconds += (sample.cpu / 100) * (atMs - prev.atMs) / 1000;
      }
    }
    const info = this.#catalog?.get(id) ?? prev?.info;
    const labels = prev && prev.info === info && prev.sample.name === sample.name
      ? prev.labels
      : this.#labels(sample, info);
    const limit = sample.totalMemory;
    const memoryLimit = this.#hostMemory > 0 && limit >= this.#hostMemory * 0.995 ? 0 : limit;
    this.#reads.set(id, { sample, atMs, cpuSeconds, info, labels, memoryLimit });
  };

  /**
   * Writes every container family, each series from the latest read, to `out`: the containers
   * admitted by the catalog's verdict now (src/catalog/gate.ts `admits`).
   */
  render(out: Exposition): void {
    const catalog = this.#catalog;
    const reads = [...this.#reads.values()].filter((r) =>
      catalog === null || admits(catalog, r.sample.id, r.sample.name)
    );
    for (const f of CONTAINER_FAMILIES) {
      let headed = false;
      for (const r of reads) {
        const v = f.value(r, r.sample.cgroup);
        if (v === null || v === undefined) continue;
        if (!headed) {
          out.family(f);
          headed = true;
        }
        out.sample(f.name, f.extra ? `${r.labels},${f.extra}` : r.labels, v);
      }
    }
  }

  #relabel(r: LatestRead, sample: Sample, info: ContainerInfo): LatestRead {
    return { ...r, info, labels: this.#labels(sample, info) };
  }

  /** The label set, sorted by name as client_golang sorts it. */
  #labels(sample: Sample, info: ContainerInfo | undefined): string {
    const pairs: [string, string][] = this.#labelNames.map((
      [key, name],
    ) => [name, info?.labels[key] ?? ""]);
    if (this.#host !== null) pairs.push(["host", this.#host]);
    pairs.push(["id", cgroupPath(sample.id, info)]);
    pairs.push(["image", info?.image ?? ""]);
    pairs.push(["name", info?.name || sample.name]);
    return labelPairs(pairs);
  }
}

/**
 * cAdvisor's `id`: the container's cgroup path, from the catalog's `/proc/<pid>/cgroup`
 * (v2 unified, else the v1 memory hierarchy); without it (`--source docker`), the cgroupfs
 * driver's `/docker/<id>`.
 */
export function cgroupPath(id: string, info: ContainerInfo | undefined): string {
  const c = info?.cgroups;
  return c?.[""] ?? c?.["memory"] ?? `/docker/${id}`;
}
