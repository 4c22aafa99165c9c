/**
 * The container metrics of `/metrics` (src/exporter/containers.ts) on literal samples, with a
 * real catalog fed by the recorded engine output (tests/fixtures/catalog/): cAdvisor's names
 * and units from the latest read, the `--label` allow-list, the `host` label, renames, and
 * series dropped when the catalog announces a stop.
 */
import assert from "node:assert/strict";
import { ContainerCatalog } from "../../src/catalog/catalog.ts";
import { ContainerFilter } from "../../src/catalog/filters.ts";
import { Exposition } from "../../src/exporter/exposition.ts";
import { CONTAINER_FAMILIES, LatestReads } from "../../src/exporter/containers.ts";
import type { CgroupFigures, Sample } from "../../src/sample.ts";
import { BEFORE, EVENT_LINES as LINES, idOf, RecordedEngine } from "../helpers/recorded_engine.ts";

const LIFE = idOf("ct-rec-life"); // compose project shop, service db
const POLICY = idOf("ct-rec-policy");
const COMPOSE = [{ key: "com.docker.compose.project" }, { key: "ct.rec" }];

async function recordedCatalog(): Promise<ContainerCatalog> {
  const catalog = new ContainerCatalog({
    engine: new RecordedEngine(),
  });
  await catalog.relist();
  return catalog;
}

async function feed(catalog: ContainerCatalog, from: number, to: number): Promise<void> {
  for (const line of LINES.slice(from, to + 1)) {
    catalog.handleLine(line);
    await catalog.idle();
  }
}

function sample(id: string, name: string, cpu: number | null, cgroup?: CgroupFigures): Sample {
  return {
    id,
    container: id.slice(0, 12),
    name,
    cpu,
    memoryUse: 5_242_880,
    totalMemory: 536_870_912,
    memoryPercentage: 0.98,
    netIn: 1180,
    netOut: 0,
    blockIn: 4096,
    blockOut: 4_194_304,
    pids: 2,
    ...(cgroup ? { cgroup } : {}),
  };
}

/** A burner at --cpus 0.5 after 10 s, OOM-killed once; values in the files' own units. */
const FIGURES: CgroupFigures = {
  monoMs: 1000,
  cpuUsageNs: 5_012_345_678,
  cpuQuotaUs: 50_000,
  cpuPeriodUs: 100_000,
  cpuPeriods: 100,
  cpuThrottledPeriods: 97,
  cpuThrottledUs: 4_850_000,
  memoryUsage: 9_437_184,
  memoryAnon: 1_048_576,
  memoryFile: 8_388_608,
  memoryMaxEvents: 3,
  oomKills: 1,
  pgmajfault: 7,
  cpuPressureSomeUs: 1_500_000,
  memoryPressureSomeUs: 250_000,
  memoryPressureFullUs: 125_000,
  ioPressureSomeUs: null,
  ioPressureFullUs: null,
  netRxPackets: 12,
  netTxPackets: 0,
  netRxErrors: 0,
  netTxErrors: 0,
  netRxDropped: 1,
  netTxDropped: 0,
  blockReads: 1,
  blockWrites: 1024,
  pidsLimit: null,
};

function text(reads: LatestReads): string {
  const out = new Exposition("text");
  reads.render(out);
  return out.text();
}

/** `name{labels} value` lines of the exposition, without comments. */
const series = (t: string) => t.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

Deno.test("a cgroup read: cAdvisor's names, seconds from ns and µs, the allow-listed labels", async () => {
  const catalog = await recordedCatalog();
  const reads = new LatestReads({ labels: COMPOSE, host: null });
  reads.follow(catalog);
  reads.add(sample(LIFE, "ct-rec-life", 50, FIGURES), 1_796_190_710_500);
  const labels = 'container_label_com_docker_compose_project="shop",container_label_ct_rec="1",' +
    `id="/docker/${LIFE}",image="busybox:local",name="ct-rec-life"`;
  assert.deepEqual(series(text(reads)), [
    `container_last_seen{${labels}} 1796190710.5`,
    `container_cpu_usage_seconds_total{${labels},cpu="total"} 5.012345678`,
    `container_cpu_cfs_periods_total{${labels}} 100`,
    `container_cpu_cfs_throttled_periods_total{${labels}} 97`,
    `container_cpu_cfs_throttled_seconds_total{${labels}} 4.85`,
    `container_memory_cache{${labels}} 8388608`,
    `container_memory_rss{${labels}} 1048576`,
    `container_memory_failcnt{${labels}} 3`,
    `container_memory_usage_bytes{${labels}} 9437184`,
    `container_memory_working_set_bytes{${labels}} 5242880`,
    `container_memory_failures_total{${labels},failure_type="pgmajfault",scope="hierarchy"} 7`,
    `container_fs_reads_bytes_total{${labels}} 4096`,
    `container_fs_reads_total{${labels}} 1`,
    `container_fs_writes_bytes_total{${labels}} 4194304`,
    `container_fs_writes_total{${labels}} 1024`,
    `container_network_receive_bytes_total{${labels}} 1180`,
    `container_network_receive_packets_total{${labels}} 12`,
    `container_network_receive_packets_dropped_total{${labels}} 1`,
    `container_network_receive_errors_total{${labels}} 0`,
    `container_network_transmit_bytes_total{${labels}} 0`,
    `container_network_transmit_packets_total{${labels}} 0`,
    `container_network_transmit_packets_dropped_total{${labels}} 0`,
    `container_network_transmit_errors_total{${labels}} 0`,
    `container_threads{${labels}} 2`,
    `container_threads_max{${labels}} 0`,
    `container_oom_events_total{${labels}} 1`,
    `container_pressure_cpu_waiting_seconds_total{${labels}} 1.5`,
    `container_pressure_memory_stalled_seconds_total{${labels}} 0.125`,
    `container_pressure_memory_waiting_seconds_total{${labels}} 0.25`,
    // State.StartedAt of the recorded inspect, as the catalog holds it.
    `container_start_time_seconds{${labels}} ${
      BEFORE.find((c) => c.id === LIFE)!.startedAtMs! / 1000
    }`,
    `container_spec_cpu_period{${labels}} 100000`,
    `container_spec_cpu_quota{${labels}} 50000`,
    `container_spec_memory_limit_bytes{${labels}} 536870912`,
  ]);
  // Every family is headed once, with cAdvisor's type.
  const t = text(reads);
  assert.match(t, /# TYPE container_memory_failcnt counter\n/);
  assert.match(t, /# TYPE container_spec_cpu_quota gauge\n/);
  assert.equal((t.match(/# TYPE /g) ?? []).length, series(t).length);
});

Deno.test("a docker-stats read: only what the stream has; CPU seconds integrated from percent", () => {
  const reads = new LatestReads({ labels: [], host: null });
  // 50 % of one CPU (a --cpus 0.5 burner), reads 1 s apart, then a 2 s gap at 25 %.
  reads.add(sample(LIFE, "ct-rec-life", null), 10_000);
  for (let i = 1; i <= 10; i++) reads.add(sample(LIFE, "ct-rec-life", 50), 10_000 + i * 1000);
  reads.add(sample(LIFE, "ct-rec-life", 25), 22_000);
  const t = text(reads);
  const names = series(t).map((l) => l.slice(0, l.indexOf("{")));
  assert.deepEqual(names, [
    "container_last_seen",
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_fs_reads_bytes_total",
    "container_fs_writes_bytes_total",
    "container_network_receive_bytes_total",
    "container_network_transmit_bytes_total",
    "container_threads",
    "container_spec_memory_limit_bytes",
  ]);
  // Not in the catalog: the stats name and the cgroupfs driver's path, no image.
  assert.match(
    t,
    new RegExp(
      `container_cpu_usage_seconds_total\\{id="/docker/${LIFE}",name="ct-rec-life",` +
        `cpu="total"\\} 5.5\n`,
    ),
  );
  // Every family the table declares has cAdvisor's counter suffix rule.
  for (const f of CONTAINER_FAMILIES) {
    assert.equal(
      f.type === "counter",
      f.name.endsWith("_total") || f.name === "container_memory_failcnt",
      f.name,
    );
  }
});

Deno.test("the host label only when asked; label keys sanitised, the first of a clash kept", () => {
  const reads = new LatestReads({
    labels: [{ key: "a.b" }, { key: "a-b" }, { key: "absent" }],
    host: "node-1",
  });
  const info = {
    ...BEFORE.find((c) => c.id === LIFE)!,
    labels: { "a.b": "x", "a-b": "y" },
    cgroups: { "": `/system.slice/docker-${LIFE}.scope` }, // v2, systemd driver
    startedAtMs: Date.parse("2026-12-02T06:08:04.123456789Z"), // State.StartedAt
  };
  // A catalog of this one container (the recorded one, with labels and cgroups replaced).
  reads.follow({
    get: () => info,
    subscribe: () => () => {},
    known: () => "pass",
    passes: () => true,
  });
  reads.add(sample(LIFE, "ct-rec-life", 0), 1000);
  assert.equal(
    series(text(reads))[0],
    `container_last_seen{container_label_a_b="x",host="node-1",` +
      `id="/system.slice/docker-${LIFE}.scope",` +
      'image="busybox:local",name="ct-rec-life"} 1',
  );
  assert.match(text(reads), /\ncontainer_start_time_seconds\{[^}]+\} 1796191684.123\n/);
});

Deno.test("a stop drops the series at once, late samples stay out, a start brings them back", async () => {
  const catalog = await recordedCatalog();
  const reads = new LatestReads({ labels: [], host: null });
  reads.follow(catalog);
  // A scrape at every announcement sees a whole, consistent exposition.
  const scrapes: [number, string][] = [];
  catalog.subscribe(() => scrapes.push([reads.size, text(reads)]));
  reads.add(sample(LIFE, "ct-rec-life", 1), 1000);
  reads.add(sample(POLICY, "ct-rec-policy", 1), 1000);
  await feed(catalog, 0, 16);
  assert.equal(reads.size, 2);

  await feed(catalog, 17, 17); // die ct-rec-policy
  assert.equal(reads.size, 1);
  assert.doesNotMatch(text(reads), /ct-rec-policy/);
  reads.add(sample(POLICY, "ct-rec-policy", 1), 2000); // a read in flight at the stop
  assert.doesNotMatch(text(reads), /ct-rec-policy/);

  await feed(catalog, 18, 18); // start ct-rec-policy (restart policy)
  reads.add(sample(POLICY, "ct-rec-policy", 1), 3000);
  assert.match(
    text(reads),
    /container_last_seen\{id="[^"]+",image="busybox:local",name="ct-rec-policy"\} 3\n/,
  );

  await feed(catalog, 19, 21); // pause, unpause, rename to ct-rec-life2: relabelled at once
  assert.match(text(reads), /name="ct-rec-life2"\} 1\n/);
  assert.doesNotMatch(text(reads), /name="ct-rec-life"/);
  // stop; start and the update its inspect brings (a new StartedAt); pause, unpause, rename.
  assert.equal(scrapes.length, 6);
  for (const [size, s] of scrapes) {
    assert.equal(series(s).filter((l) => l.startsWith("container_last_seen")).length, size);
  }
});

Deno.test("no memory limit (the host's memory, as the CLI rounds it) is exported as 0", () => {
  // This machine: MemTotal 24683784 kB; `docker stats` shows an unlimited container's limit as
  // "23.54GiB".
  const reads = new LatestReads({ labels: [], host: null, hostMemory: 24_683_784 * 1024 });
  reads.add({ ...sample(LIFE, "unlimited", 1), totalMemory: 23.54 * 2 ** 30 }, 1000);
  reads.add({ ...sample(POLICY, "limited", 1), totalMemory: 512 * 2 ** 20 }, 1000);
  const limits = series(text(reads)).filter((l) => l.startsWith("container_spec_memory_limit"));
  assert.deepEqual(limits.map((l) => l.replace(/\{.*name="([^"]+)"\}/, " $1")), [
    "container_spec_memory_limit_bytes unlimited 0",
    "container_spec_memory_limit_bytes limited 536870912",
  ]);
});

Deno.test("the filters apply as to rows: the catalog's verdict, else the name filters", async () => {
  const catalog = new ContainerCatalog({
    engine: new RecordedEngine(),
    filter: new ContainerFilter({
      include: [],
      exclude: ["ct-rec-policy", "stranger-out*"],
      includeLabels: [],
      excludeLabels: [],
    }),
  });
  await catalog.relist();
  const reads = new LatestReads({ labels: [], host: null });
  reads.follow(catalog);
  reads.add(sample(LIFE, "ct-rec-life", 1), 1000);
  reads.add(sample(POLICY, "ct-rec-policy", 1), 1000); // known, excluded
  reads.add(sample("5".repeat(64), "stranger-in", 1), 1000); // unknown: by its name
  reads.add(sample("6".repeat(64), "stranger-out-1", 1), 1000);
  const names = series(text(reads)).filter((l) => l.startsWith("container_last_seen"))
    .map((l) => /name="([^"]+)"/.exec(l)![1]);
  assert.deepEqual(names, ["ct-rec-life", "stranger-in"]);
});
