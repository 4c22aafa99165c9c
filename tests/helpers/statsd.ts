/**
 * Test harness for seed 003's stack: a private Graphite carbon-cache (Debian's
 * `graphite-carbon`) storing Whisper files at one point per second, read back with
 * `whisper-fetch` (Debian's `python3-whisper`), and Etsy's StatsD server (npm `statsd` 0.9.0,
 * run with `node`) flushing to it every 2 s. Everything listens on free loopback ports and
 * lives in temporary directories.
 */
import { type LocalServer, spawnLocalServer } from "./influx.ts";
import { freePort } from "./questdb.ts";

/** The Etsy StatsD release the tests run. */
export const STATSD_VERSION = "0.9.0";

/** A private carbon-cache. */
export interface Carbon extends LocalServer {
  /** Its plaintext line receiver port (what StatsD's graphite backend writes to). */
  linePort: number;
  /**
   * The points of one series, oldest first, nulls dropped: `[epoch seconds, value]`.
   * @param metric dotted name, e.g. `stats.gauges.x.cpu`, or a tagged one as
   *   {@link Carbon.series} names it.
   * @returns [] when the series has no Whisper file yet.
   */
  fetch(metric: string): Promise<[number, number][]>;
  /**
   * Every series stored, by name: dotted names, and tagged ones as carbon stores them
   * (`stats.gauges.x.cpu;host=a;name=b`).
   * @returns name to Whisper file.
   */
  series(): Map<string, string>;
}

/** Whether `port` on 127.0.0.1 accepts a TCP connection. */
async function accepts(port: number): Promise<boolean> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.close();
  return true;
}

/**
 * Starts carbon-cache with a temporary configuration: its own directories, receivers on free
 * loopback ports, `retentions = 1s:1h` for every series (nothing is averaged) and
 * `WHISPER_AUTOFLUSH` so a point is on disk when it is written. Tagged series
 * (`name;tag=value;...`, what Etsy's StatsD makes of DogStatsD tags) are stored under `_tagged/`
 * with readable file names; no graphite-web tag database is asked (`ENABLE_TAGS = False`).
 */
export async function startCarbon(): Promise<Carbon> {
  const root = await Deno.makeTempDir({ prefix: "statsd-carbon-" });
  const [linePort, picklePort, queryPort] = [await freePort(), await freePort(), await freePort()];
  const whisper = `${root}/whisper`;
  await Deno.writeTextFile(
    `${root}/carbon.conf`,
    `[cache]
STORAGE_DIR = ${root}/
LOCAL_DATA_DIR = ${whisper}/
CONF_DIR = ${root}/
LOG_DIR = ${root}/log/
PID_DIR = ${root}/
USER =
DATABASE = whisper
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = ${linePort}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = ${picklePort}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = ${queryPort}
WHISPER_AUTOFLUSH = True
ENABLE_TAGS = False
TAG_HASH_FILENAMES = False
`,
  );
  await Deno.writeTextFile(
    `${root}/storage-schemas.conf`,
    "[everything]\npattern = .*\nretentions = 1s:1h\n",
  );
  const server = await spawnLocalServer(
    "carbon-cache",
    [`--config=${root}/carbon.conf`, "--nodaemon", "start"],
    root,
    () => accepts(linePort),
  );
  function series(): Map<string, string> {
    const names = new Map<string, string>();
    const walk = (dir: string, prefix: string) => {
      for (const e of Deno.readDirSync(dir)) {
        const path = `${dir}/${e.name}`;
        if (e.isDirectory && prefix === "" && e.name === "_tagged") walkTagged(path);
        else if (e.isDirectory) walk(path, `${prefix}${e.name}.`);
        else if (e.name.endsWith(".wsp")) names.set(prefix + e.name.slice(0, -4), path);
      }
    };
    // _tagged/<3 hex>/<3 hex>/<name with "." as "_DOT_">.wsp (carbon/util.py TaggedSeries.encode)
    const walkTagged = (dir: string) => {
      for (const a of Deno.readDirSync(dir)) {
        for (const b of Deno.readDirSync(`${dir}/${a.name}`)) {
          for (const f of Deno.readDirSync(`${dir}/${a.name}/${b.name}`)) {
            const name = f.name.slice(0, -4).replaceAll("_DOT_", ".");
            names.set(name, `${dir}/${a.name}/${b.name}/${f.name}`);
          }
        }
      }
    };
    try {
      walk(whisper, "");
    } catch {
      // no series yet
    }
    return names;
  }
  return {
    ...server,
    linePort,
    series,
    async fetch(metric) {
      const file = series().get(metric);
      if (file === undefined) return [];
      const out = await new Deno.Command("whisper-fetch", {
        args: ["--json", "--from=0", file],
        stdout: "piped",
        stderr: "piped",
      }).output();
      if (!out.success) {
        throw new Error(`whisper-fetch ${file}: ${new TextDecoder().decode(out.stderr)}`);
      }
      const { start, step, values } = JSON.parse(new TextDecoder().decode(out.stdout)) as {
        start: number;
        step: number;
        values: (number | null)[];
      };
      return values.flatMap((v, i) =>
        v === null ? [] : [[start + i * step, v] as [number, number]]
      );
    },
  };
}

/**
 * The directory holding `node_modules/statsd` at {@link STATSD_VERSION}: `$STATSD_PACKAGE_DIR`
 * (.ci/run installs it there), else a scratch directory under the system's temp directory,
 * installed with `npm install` on first use.
 * @throws {Error} when npm fails.
 */
export async function statsdPackageDir(): Promise<string> {
  const given = Deno.env.get("STATSD_PACKAGE_DIR");
  const dir = given ??
    `${Deno.env.get("TMPDIR") ?? "/tmp"}/container-statsd-statsd-${STATSD_VERSION}`;
  const pkg = `${dir}/node_modules/statsd/package.json`;
  try {
    const { version } = JSON.parse(await Deno.readTextFile(pkg)) as { version: string };
    if (version === STATSD_VERSION) return dir;
  } catch {
    // not installed yet
  }
  await Deno.mkdir(dir, { recursive: true });
  const out = await new Deno.Command("npm", {
    args: ["install", "--no-audit", "--no-fund", "--prefix", dir, `statsd@${STATSD_VERSION}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`npm install statsd: ${new TextDecoder().decode(out.stderr)}`);
  return dir;
}

/**
 * How often StatsD flushes to carbon, ms. Carbon keeps one point per second and StatsD stamps a
 * flush with its time rounded to the second, so two flushes in one second would overwrite one
 * counter sum with the next: 2 s leaves a flush up to a second late on a loaded machine.
 */
export const FLUSH_MS = 2000;

/** A private Etsy StatsD. */
export interface Statsd extends LocalServer {
  /** Its UDP port (what `--statsd` names). */
  port: number;
}

/**
 * Starts Etsy's StatsD, flushing to `carbon` every {@link FLUSH_MS} with the graphite backend's
 * current namespace (`stats.gauges.<name>`, `stats.counters.<name>.count`), from its
 * package directory so that `./backends/graphite` resolves.
 */
export async function startStatsd(carbon: Carbon): Promise<Statsd> {
  const root = await Deno.makeTempDir({ prefix: "statsd-etsy-" });
  const [port, mgmtPort] = [await freePort(), await freePort()];
  const config = {
    port,
    address: "127.0.0.1",
    mgmt_address: "127.0.0.1",
    mgmt_port: mgmtPort,
    graphiteHost: "127.0.0.1",
    graphitePort: carbon.linePort,
    flushInterval: FLUSH_MS,
    backends: ["./backends/graphite"],
    graphite: { legacyNamespace: false },
  };
  await Deno.writeTextFile(`${root}/config.js`, `(${JSON.stringify(config)})\n`);
  const pkg = `${await statsdPackageDir()}/node_modules/statsd`;
  // stats.js resolves backends against the working directory: run it from the package.
  const server = await spawnLocalServer(
    "sh",
    ["-c", `cd "$1" && exec node stats.js "$2"`, "sh", pkg, `${root}/config.js`],
    root,
    () => accepts(mgmtPort),
  );
  return { ...server, port };
}
