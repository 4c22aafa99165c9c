/**
 * The cgroup columns of `containerStats` (issue 18) in ILP: a null figure leaves its column out,
 * a row of the docker source (no figures) is the line it always was, and the InfluxDB and
 * VictoriaMetrics dialect (no string fields) carries the figures as it carries the other
 * columns: the table declaration is the one mapping for every sink.
 */
import assert from "node:assert/strict";
import { IlpEncoder } from "../../src/ilp/encoder.ts";
import type { CgroupRow, ContainerRow } from "../../src/reducer/reducer.ts";
import { CONTAINER_TABLE } from "../../src/schema/containers.ts";
import { type EncodeOptions, encodeRows } from "../../src/schema/table.ts";

const DOCKER_ROW: ContainerRow = {
  id: "a".repeat(64),
  container: "a".repeat(12),
  name: "web",
  cpu: 12.5,
  memoryPercentage: 1,
  memoryUse: 1024,
  totalMemory: 102400,
  blockIn: 0,
  blockOut: 4096,
  netIn: 10,
  netOut: 20,
  blockInDelta: 0,
  blockOutDelta: 4096,
  netInDelta: 10,
  netOutDelta: 20,
  pids: 2,
  samples: 10,
};

/** A v1 container at `--cpus 0.5` with one OOM kill: no pressure, no pids limit. */
const V1_FIGURES: CgroupRow = {
  cpuLimit: 0.5,
  cpuThrottledPct: 98.5,
  cpuThrottledUsDelta: 4_861_234,
  memoryAnon: 53248,
  memoryFile: 8388608,
  oomKillsDelta: 1,
  memoryMaxEventsDelta: 171,
  pgmajfaultDelta: 0,
  cpuPressurePct: null,
  memoryPressurePct: null,
  memoryPressureFullPct: null,
  ioPressurePct: null,
  ioPressureFullPct: null,
  netRxDroppedDelta: 0,
  netTxDroppedDelta: 0,
  netRxErrorsDelta: 0,
  netTxErrorsDelta: 0,
  pidsLimit: null,
};

function line(row: ContainerRow, options: EncodeOptions = {}): string {
  const enc = new IlpEncoder();
  const n = encodeRows(
    enc,
    CONTAINER_TABLE,
    "containerStats",
    [row],
    900_000_000_000n,
    { host: "h" },
    (_, e) => assert.fail(e),
    options,
  );
  assert.equal(n, 1);
  return enc.take();
}

const BASE = "containerStats,host=h,container=aaaaaaaaaaaa,name=web " +
  'id="' + "a".repeat(64) + '",cpu=12.5,memory_percentage=1,memory_use=1024,' +
  "total_memory=102400,block_io_in=0,block_io_out=4096,net_io_in=10,net_io_out=20," +
  "block_io_in_delta=0i,block_io_out_delta=4096i,net_io_in_delta=10i,net_io_out_delta=20i," +
  "pids=2i,samples=10i";

Deno.test("a row without cgroup figures (the docker source) has no cgroup columns", () => {
  assert.equal(line(DOCKER_ROW), `${BASE} 900000000000\n`);
});

Deno.test("cgroup figures: DOUBLE and LONG columns; a null figure is left out", () => {
  assert.equal(
    line({ ...DOCKER_ROW, cgroup: V1_FIGURES }),
    `${BASE},cpu_limit=0.5,cpu_throttled_pct=98.5,cpu_throttled_us_delta=4861234i,` +
      "memory_anon=53248,memory_file=8388608,oom_kills_delta=1i," +
      "memory_max_events_delta=171i,pgmajfault_delta=0i,net_rx_dropped_delta=0i," +
      "net_tx_dropped_delta=0i,net_rx_errors_delta=0i,net_tx_errors_delta=0i 900000000000\n",
  );
  const v2 = { ...V1_FIGURES, cpuPressurePct: 12.5, ioPressureFullPct: 0, pidsLimit: 100 };
  const text = line({ ...DOCKER_ROW, cgroup: v2 });
  assert.match(text, /,cpu_pressure_pct=12\.5,/);
  assert.match(text, /,io_pressure_full_pct=0,/);
  assert.match(text, /,pids_limit=100i /);
  assert.doesNotMatch(text, /memory_pressure/);
});

Deno.test("the InfluxDB/VictoriaMetrics dialect carries the cgroup fields", () => {
  const text = line({ ...DOCKER_ROW, cgroup: V1_FIGURES }, { stringFields: false });
  assert.doesNotMatch(text, /id=/, "no string fields for VictoriaMetrics");
  assert.match(text, /,cpu_limit=0\.5,cpu_throttled_pct=98\.5,cpu_throttled_us_delta=4861234i,/);
  assert.match(text, /,oom_kills_delta=1i,/);
});
