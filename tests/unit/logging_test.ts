/**
 * Log level selection, journald detection and line formats.
 *
 * Run with: deno test --allow-env --allow-read --allow-write --allow-run
 */

import assert from "node:assert/strict";
import { fstatSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { getLogger } from "@logtape/logtape";
import {
  journalPriority,
  parseLogLevel,
  setupLogging,
  underJournald,
} from "../../src/service/logging.ts";

Deno.test("parseLogLevel: default info, LOG_LEVEL wins over RUST_LOG", () => {
  assert.equal(parseLogLevel({}), "info");
  assert.equal(parseLogLevel({ LOG_LEVEL: "", RUST_LOG: "" }), "info");
  assert.equal(parseLogLevel({ LOG_LEVEL: "debug" }), "debug");
  assert.equal(parseLogLevel({ LOG_LEVEL: "DEBUG" }), "debug");
  assert.equal(parseLogLevel({ LOG_LEVEL: " trace " }), "trace");
  assert.equal(parseLogLevel({ LOG_LEVEL: "warn" }), "warning");
  assert.equal(parseLogLevel({ LOG_LEVEL: "warning" }), "warning");
  assert.equal(parseLogLevel({ LOG_LEVEL: "error", RUST_LOG: "trace" }), "error");
  assert.equal(parseLogLevel({ LOG_LEVEL: "", RUST_LOG: "debug" }), "debug");
  assert.equal(parseLogLevel({ LOG_LEVEL: undefined, RUST_LOG: "debug" }), "debug");
});

Deno.test("parseLogLevel: RUST_LOG in env_logger syntax", () => {
  const cases: [string, string][] = [
    ["trace", "trace"],
    ["Warn", "warning"],
    ["error", "error"],
    ["off", "error"],
    ["container_statsd=debug", "debug"],
    ["container-statsd=debug", "debug"],
    ["info,foo=debug", "info"],
    ["foo=debug,warn", "warning"],
    ["foo=debug", "debug"],
    ["warn,container_statsd=trace", "trace"],
    ["container_statsd::notify=debug,info", "debug"],
    ["container_statsd", "trace"],
    ["hyper,info", "info"],
    ["debug/some.*regex", "debug"],
    ["info,", "info"],
    ["hyper", "info"], // another crate's target only: nothing about us, so the default
  ];
  for (const [value, expected] of cases) {
    assert.equal(parseLogLevel({ RUST_LOG: value }), expected, `RUST_LOG=${value}`);
  }
});

Deno.test("parseLogLevel: invalid values throw a one-line RangeError", () => {
  const check = (env: { LOG_LEVEL?: string; RUST_LOG?: string }, variable: string) => {
    assert.throws(() => parseLogLevel(env), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.ok(!error.message.includes("\n"), error.message);
      assert.ok(error.message.includes(variable), error.message);
      for (const level of ["trace", "debug", "info", "error"]) {
        assert.ok(error.message.includes(level), error.message);
      }
      return true;
    });
  };
  check({ LOG_LEVEL: "verbose" }, "LOG_LEVEL");
  check({ LOG_LEVEL: "fatal", RUST_LOG: "info" }, "LOG_LEVEL");
  check({ RUST_LOG: "foo=loud" }, "RUST_LOG");
  check({ RUST_LOG: "=debug" }, "RUST_LOG");
});

Deno.test("underJournald compares JOURNAL_STREAM with stderr's device and inode", () => {
  const stat = () => ({ dev: 64769, ino: 123456 });
  assert.equal(underJournald("64769:123456", stat), true);
  assert.equal(underJournald("64769:123457", stat), false);
  assert.equal(underJournald(null, stat), false);
  assert.equal(underJournald("garbage", stat), false);
  assert.equal(underJournald("1:2", () => ({ dev: 1n, ino: 2n })), true);
  assert.equal(
    underJournald("1:2", () => {
      throw new Error("EBADF");
    }),
    false,
  );
  // This process's real stderr.
  const real = fstatSync(2);
  assert.equal(underJournald(`${real.dev}:${real.ino}`), true);
  assert.equal(underJournald(`${real.dev}:${real.ino + 1}`), false);
});

Deno.test("journalPriority maps levels to syslog priorities", () => {
  assert.deepEqual(
    (["trace", "debug", "info", "warning", "error", "fatal"] as const).map(journalPriority),
    [7, 7, 6, 4, 3, 2],
  );
});

Deno.test("setupLogging journald: <P> prefix on every line, no timestamp, level filter", async () => {
  const out: string[] = [];
  await setupLogging("debug", { journald: true, write: (text) => out.push(text) });
  const log = getLogger(["container-statsd", "test"]);
  log.trace("hidden");
  log.debug("d {n}", { n: 1 });
  log.info("i {name} {obj}", { name: "web", obj: { a: [1, 2], b: "x" } });
  log.info("forged? {text}", { text: "a\n<3>b\x1b[2J" });
  log.warn("w");
  log.error("e\nsecond line");
  getLogger(["other"]).error("not ours");
  assert.deepEqual(out, [
    "<7>d 1\n",
    "<6>i web { a: [ 1, 2 ], b: 'x' }\n",
    "<6>forged? a\\n<3>b\\u001b[2J\n",
    "<4>w\n",
    "<3>e\n<3>second line\n",
  ]);
});

Deno.test("setupLogging plain: ISO timestamp, level and category", async () => {
  const out: string[] = [];
  await setupLogging("info", { journald: false, write: (text) => out.push(text) });
  getLogger(["container-statsd", "notify"]).debug("hidden");
  getLogger(["container-statsd", "notify"]).info("hello {who}", { who: 42 });
  getLogger(["container-statsd"]).error("boom");
  assert.equal(out.length, 2, out.join(""));
  assert.match(
    out[0] ?? "",
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[INFO\] container-statsd\.notify: hello 42\n$/,
  );
  assert.match(out[1] ?? "", /Z \[ERROR\] container-statsd: boom\n$/);
});

/** Runs a child Deno whose stderr is a file, with JOURNAL_STREAM set by the shell. */
async function childStderr(journalStream: "match" | "mismatch"): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "logging-test-" });
  try {
    const logFile = `${dir}/stderr.log`;
    const config = fileURLToPath(new URL("../../deno.json", import.meta.url));
    const module = new URL("../../src/service/logging.ts", import.meta.url).href;
    const code = `import { getLogger } from "@logtape/logtape";
      import { setupLogging } from ${JSON.stringify(module)};
      await setupLogging("info");
      getLogger(["container-statsd"]).warn("to the journal?");`;
    // systemd.exec: JOURNAL_STREAM is "<st_dev>:<st_ino>" of the stream, both decimal.
    const script = `exec 2>"$1"; js=$(stat -L -c '%d:%i' "$1")
      if [ "$2" = mismatch ]; then js="$js"1; fi
      JOURNAL_STREAM="$js" exec "$3" eval --config "$4" "$5"`;
    // The shell and stat by their own paths: the unit tier runs with PATH holding only deno.
    const { code: status } = await new Deno.Command("/bin/sh", {
      args: ["-c", script, "sh", logFile, journalStream, Deno.execPath(), config, code],
      env: { NO_COLOR: "1", PATH: "/usr/bin:/bin" },
    }).output();
    const text = await Deno.readTextFile(logFile);
    assert.equal(status, 0, text);
    return text;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a child process under a journal stream writes <P> lines, else plain lines", async () => {
  assert.equal(await childStderr("match"), "<4>to the journal?\n");
  assert.match(
    await childStderr("mismatch"),
    /Z \[WARNING\] container-statsd: to the journal\?\n$/,
  );
});
