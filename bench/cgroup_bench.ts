/**
 * The cgroup source's hot path (issue 13): one read round of real containers' cgroup files and
 * `/proc/<pid>/net/dev` on this machine's kernel (cgroup v1, cgroupfs driver), through a
 * recursive bind of `/` as `--host-root`, parsed into samples exactly as `CgroupSource` does.
 * The issue's goal is at most 1.0 CPU s/min for 200 containers at a 1 s period: about 80 µs
 * per container per sample.
 *
 * Benchmarks:
 * - `cgroup round <N> containers`: one round over N containers, files kept open (the source's
 *   way); divide by N for µs per container per sample (printed at the end too);
 * - `cgroup one container`: the same for one container;
 * - `cgroup one container, open/read/close each time`: the naive reader, for comparison.
 *
 * Run as root (it mounts the bind and starts containers named statsd-bench-cg-*):
 *   deno bench --allow-all bench/cgroup_bench.ts            (CG_BENCH_CONTAINERS=20 default)
 * or as part `cgroup` of the suite (`deno task bench --parts cgroup`). The direct figure goes to
 * stderr, so that `deno bench --json` keeps stdout to itself. `CG_BENCH_HOST_ROOT=<dir>` reads
 * through an existing host root instead of binding `/` (on a host whose mount table is already
 * large, a recursive bind copies all of it); `CG_BENCH_PREFIX` renames the containers (it must
 * start with statsd-bench-).
 */
import { HostRoot } from "../src/host/host_root.ts";
import { cgroupFiles, detectLayout, resolveDirs } from "../src/source/cgroup/layout.ts";
import { cgroupsResolver } from "../src/source/cgroup/proc_cgroup.ts";
import { ContainerReader, ReadBuffer, type Reading } from "../src/source/cgroup/reader.ts";
import { sampleOf } from "../src/source/cgroup/sample.ts";
import { mountHostRoot } from "../tests/helpers/docker.ts";
import { ensureBusyboxImage, removeContainers, sh, startFleet } from "./lib/docker.ts";

const N = Number(Deno.env.get("CG_BENCH_CONTAINERS") ?? 20);
const PREFIX = Deno.env.get("CG_BENCH_PREFIX") ?? "statsd-bench-cg-";

await ensureBusyboxImage();
await removeContainers(PREFIX);
const names = await startFleet(PREFIX, N, 5, 2000);
/** An existing host root (`CG_BENCH_HOST_ROOT`), or a recursive bind of `/` made here. */
const given = Deno.env.get("CG_BENCH_HOST_ROOT");
const root = given ?? await mountHostRoot();

globalThis.addEventListener("unload", () => {
  for (const r of readers) r.reader.close();
  new Deno.Command("docker", { args: ["rm", "-f", ...names] }).outputSync();
  if (given !== undefined) return;
  new Deno.Command("umount", { args: ["-R", "-l", root] }).outputSync();
  Deno.removeSync(root);
});

const host = new HostRoot(root);
const layout = detectLayout(host);
if (layout === null) throw new Error(`no cgroup layout under ${root}`);
const buffer = new ReadBuffer();
const monotonic = () => performance.now();

interface Opened {
  info: { id: string; name: string };
  files: ReturnType<typeof cgroupFiles>;
  netDev: string;
  reader: ContainerReader;
  previous: Reading | undefined;
}

const readers: Opened[] = [];
for (const name of names) {
  const [id, pid] = (await sh("docker", ["inspect", "-f", "{{.Id}} {{.State.Pid}}", name]))
    .split(" ");
  const cgroups = await cgroupsResolver(host)(Number(pid));
  const dirs = resolveDirs(layout, host, { id: id!, cgroups });
  if (dirs === null) throw new Error(`${name}: no cgroup found`);
  const files = cgroupFiles(layout.version, dirs);
  const netDev = `/proc/${pid}/net/dev`;
  readers.push({
    info: { id: id!, name },
    files,
    netDev,
    reader: new ContainerReader(host, layout.version, files, netDev),
    previous: undefined,
  });
}

let sink = 0;
function readOne(o: Opened, reader = o.reader): void {
  const reading = reader.read(buffer, monotonic);
  // Period 0: every read here has a window, so the CPU % is computed as in a real round.
  sink += sampleOf(o.info, o.previous, reading, 25_000_000_000, 0).cpu ?? 0;
  o.previous = reading;
}

Deno.bench({
  name: `cgroup round ${N} containers`,
  fn() {
    for (const o of readers) readOne(o);
  },
});

Deno.bench({
  name: "cgroup one container",
  baseline: true,
  fn() {
    readOne(readers[0]!);
  },
});

Deno.bench({
  name: "cgroup one container, open/read/close each time",
  fn() {
    const o = readers[0]!;
    const fresh = new ContainerReader(host, layout.version, o.files, o.netDev);
    try {
      readOne(o, fresh);
    } finally {
      fresh.close();
    }
  },
});

// A direct figure as well, outside deno bench's own statistics: the median round (and the
// fastest), so that other load on a shared machine does not skew it as it skews a mean.
{
  const rounds = 500;
  const us: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    for (const o of readers) readOne(o);
    us.push((performance.now() - t0) * 1000 / N);
  }
  us.sort((a, b) => a - b);
  const median = us[Math.floor(rounds / 2)]!;
  console.error(
    `cgroup source: ${median.toFixed(1)} µs per container per sample (median of ${rounds} ` +
      `rounds of ${N} containers; fastest ${us[0]!.toFixed(1)}); at 200 containers and 1 s: ` +
      `${(median * 200 * 60 / 1e6).toFixed(2)} CPU s/min (goal 1.0) [${sink > 0 ? 1 : 0}]`,
  );
}
