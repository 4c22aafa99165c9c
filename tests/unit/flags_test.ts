import assert from "node:assert/strict";
import {
  type Config,
  DEFAULT_QUESTDB,
  FlagExit,
  parseFlags,
  parseInterval,
} from "../../src/config/flags.ts";
import { startTaskFlags } from "../helpers/daemon.ts";

function parse(argv: string[], env: Record<string, string> = {}) {
  let out = "";
  let err = "";
  try {
    const config = parseFlags(argv, { HOME: "/home/u", ...env }, {
      out: (s) => (out += s),
      err: (s) => (err += s),
    });
    return { config, out, err, code: null as number | null };
  } catch (e) {
    if (!(e instanceof FlagExit)) throw e;
    return { config: null as Config | null, out, err, code: e.exitCode };
  }
}

Deno.test("defaults match the Rust original", () => {
  const { config } = parse(["--node", "web-1"]);
  assert.ok(config);
  assert.equal(config.node, "web-1");
  assert.equal(config.mode, "avg");
  assert.equal(config.table, "containerStats");
  assert.equal(config.intervalMs, 5 * 60_000);
  assert.equal(config.watchdog, "enabled");
  assert.deepEqual(config.disks, []);
  assert.equal(config.diskTable, "diskStats");
  assert.equal(config.hostRoot, "/");
  assert.equal(config.bufferRows, 100_000);
  assert.equal(config.spoolDir, "/home/u/.local/state/container-statsd");
  assert.ok(config.questdb, "QuestDB is the default sink");
  assert.equal(config.questdb.protocol, "http");
  assert.equal(config.questdb.host, "localhost");
  assert.equal(config.questdb.port, 9000);
  assert.equal(DEFAULT_QUESTDB, "http::addr=localhost:9000;");
});

Deno.test("short flags, repeatable disks, bare host and config strings, env fallback", () => {
  const { config } = parse([
    "-n",
    "h",
    "-m",
    "max",
    "-q",
    "db1",
    "-t",
    "stats",
    "-i",
    "10s",
    "-w",
    "disabled",
    "-d",
    "/",
    "-d",
    "/var/lib/docker",
    "-b",
    "disks",
  ], { STATE_DIRECTORY: "/var/lib/container-statsd" });
  assert.ok(config);
  assert.equal(config.mode, "max");
  assert.ok(config.questdb);
  assert.equal(
    `${config.questdb.protocol}://${config.questdb.host}:${config.questdb.port}`,
    "http://db1:9000",
  );
  assert.equal(config.intervalMs, 10_000);
  assert.deepEqual(config.disks, ["/", "/var/lib/docker"]);
  assert.equal(config.spoolDir, "/var/lib/container-statsd");
  const tcp = parse(["-n", "h", "-q", "tcp::addr=db2:9009;"]).config!;
  assert.equal(tcp.questdb?.protocol, "tcp");
  const env = parse(["-n", "h"], { QDB_CLIENT_CONF: "https::addr=db3:9000;token=s3cret;" })
    .config!;
  assert.equal(env.questdb?.protocol, "https");
  assert.equal(env.questdb?.host, "db3");
});

Deno.test("interval: whole minutes 1-15, durations 1s-15m", () => {
  assert.equal(parseInterval("1"), 60_000);
  assert.equal(parseInterval("15"), 15 * 60_000);
  assert.equal(parseInterval("90s"), 90_000);
  assert.equal(parseInterval("2m"), 120_000);
  assert.equal(parseInterval("1s"), 1000);
  for (const bad of ["0", "16", "0s", "16m", "901s", "1h", "1.5", "-1", "abc", ""]) {
    assert.throws(() => parseInterval(bad), /Allowed: whole minutes 1 to 15/, bad);
  }
});

Deno.test("a bad value: one line naming the flag and what is allowed, exit code 2", () => {
  const cases: [string[], RegExp][] = [
    [
      ["-n", "h", "-m", "mean"],
      /option '-m, --mode <mode>' argument 'mean' is invalid\. Allowed choices are avg, max\./,
    ],
    [
      ["-n", "h", "-w", "on"],
      /--watchdog <state>' argument 'on' is invalid\. Allowed choices are enabled, disabled\./,
    ],
    [
      ["-n", "h", "-i", "20"],
      /--interval <n\|duration>' argument '20' is invalid\. Allowed: whole minutes 1 to 15/,
    ],
    [["-n", "h", "-t", "bad/name"], /--table <name>' argument 'bad\/name' is invalid\./],
    [
      ["-n", "h", "--buffer-rows", "0"],
      /--buffer-rows <n>' argument '0' is invalid\. Allowed: a whole number/,
    ],
    [
      ["-n", "h", "-q", "http::addr=db:9000;bogus=1;"],
      /--questdb <target>' is invalid\..*bogus.*Allowed: a host, host:port/,
    ],
    [["-m", "max"], /required option '-n, --node <name>' not specified/],
    [["-n", "h", "--nope"], /unknown option '--nope'/],
  ];
  for (const [argv, re] of cases) {
    const r = parse(argv);
    assert.equal(r.code, 2, argv.join(" "));
    assert.match(r.err, re);
    assert.equal(r.err.trim().split("\n").length, 1, `one line: ${r.err}`);
  }
  const env = parse(["-n", "h"], { QDB_CLIENT_CONF: "ftp::addr=x;" });
  assert.equal(env.code, 2);
  assert.match(env.err, /environment variable QDB_CLIENT_CONF is invalid/);
});

Deno.test("an unreadable tls_roots file is a bad flag: one line, exit 2", () => {
  const r = parse(["-n", "h", "-q", "https::addr=db:9000;tls_roots=/nonexistent/ca.pem;"]);
  assert.equal(r.code, 2);
  assert.match(
    r.err,
    /--questdb <target>' is invalid\. cannot read TLS CA file \/nonexistent\/ca\.pem/,
  );
  assert.equal(r.err.trim().split("\n").length, 1, `one line: ${r.err}`);
});

Deno.test("--help and --version exit 0", () => {
  const help = parse(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--node <name>/);
  assert.match(help.out, /--interval <n\|duration>/);
  const version = parse(["--version"]);
  assert.equal(version.code, 0);
  assert.match(version.out, /^\d+\.\d+\.\d+\n$/);
});

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
async function runMain(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-q", ...startTaskFlags(), MAIN, ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("the daemon: a bad flag exits 2 with one line before anything starts", async () => {
  const r = await runMain(["--node", "h", "--mode", "mean"]);
  assert.equal(r.code, 2);
  assert.equal(
    r.stderr.trim(),
    "error: option '-m, --mode <mode>' argument 'mean' is invalid. Allowed choices are avg, max.",
  );
});

Deno.test("the daemon: a bad LOG_LEVEL exits 2 naming the variable", async () => {
  const r = await runMain(["--node", "h"], { LOG_LEVEL: "loud" });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /LOG_LEVEL/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

Deno.test("the daemon: docker missing from PATH exits 1 and says so; secrets never logged", async () => {
  const r = await runMain(
    ["--node", "h", "--questdb", "http::addr=db:9000;username=u;password=hunter2;"],
    { PATH: "/nonexistent", HOME: "/tmp" },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /docker not found on PATH/);
  assert.match(r.stderr, /password=\*\*\*/);
  assert.doesNotMatch(r.stderr, /hunter2/);
});

Deno.test("periods make sense or are refused: one line, exit 2", () => {
  const long = parse([
    "-n",
    "h",
    "--source",
    "cgroup",
    "--sample-period",
    "10s",
    "--interval",
    "5s",
  ]);
  assert.equal(long.code, 2);
  assert.equal(
    long.err,
    "error: option '--sample-period <duration>' argument is invalid. Allowed: at most the " +
      "interval (5000 ms) with --source cgroup.\n",
  );
  const docker = parse(["-n", "h", "--sample-period", "2s"]);
  assert.equal(docker.code, 2);
  assert.match(docker.err, /^error: option '--sample-period <duration>'.*--source cgroup flag/);
  assert.equal(docker.err.split("\n").length, 2, "one line");
  assert.equal(
    parse(["-n", "h", "--source", "cgroup", "--sample-period", "5s", "--interval", "5s"]).code,
    null,
  );
  assert.equal(
    parse(["-n", "h", "--source", "cgroup", "--interval", "1s"]).code,
    null,
    "default 1 s fits",
  );
});
