/**
 * `--dry-run` with the daemon's own process (main.ts with the start task's permissions) on the
 * real engine and no QuestDB: each interval's rows go to stdout (an aligned table, or ILP
 * lines with `=ilp`), the logs to stderr, and nothing is sent or spooled.
 */
import assert from "node:assert/strict";
import { decodeIlp } from "../../src/delivery/dry_run.ts";
import { startTaskFlags } from "../helpers/daemon.ts";
import { ensureBusyboxImage, removeContainers, runContainer } from "../helpers/docker.ts";
import { freePort } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** A daemon whose stdout and stderr are kept apart. */
interface Run {
  stdout: string;
  stderr: string;
  code: number;
}

/**
 * Runs the daemon until `enough(stdout)` holds (or 30 s pass), then sends SIGTERM.
 * @returns what it printed and its exit status.
 */
async function runDaemon(args: string[], enough: (stdout: string) => boolean): Promise<Run> {
  const child = new Deno.Command("deno", {
    args: ["run", "-q", ...startTaskFlags(), MAIN, ...args],
    env: { LOG_LEVEL: "info", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  let done: () => void = () => {};
  const seen = new Promise<void>((resolve) => done = resolve);
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const text of s.pipeThrough(new TextDecoderStream())) add(text);
  };
  const pumps = Promise.all([
    pump(child.stdout, (t) => {
      stdout += t;
      if (enough(stdout)) done();
    }),
    pump(child.stderr, (t) => stderr += t),
  ]);
  const timer = setTimeout(done, 30_000);
  await Promise.race([seen, child.status]);
  clearTimeout(timer);
  try {
    child.kill("SIGTERM");
  } catch { /* exited */ }
  const { code } = await child.status;
  await pumps;
  return { stdout, stderr, code };
}

Deno.test({
  name: "--dry-run: rows to stdout as a table or ILP, logs to stderr, no QuestDB",
  ignore: await requires("docker"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const prefix = `gf-${crypto.randomUUID().slice(0, 8)}-`;
    const node = `${prefix}node`;
    await ensureBusyboxImage();
    const spoolDir = await Deno.makeTempDir({ prefix: "gf-spool-" });
    // Nothing listens here: a dry run must not try it.
    const questdb = `http::addr=127.0.0.1:${await freePort()};`;
    const common = ["--node", node, "--interval", "1s", "--watchdog", "disabled"];
    const base = [...common, "--questdb", questdb, "--spool-dir", spoolDir];
    try {
      await runContainer(`${prefix}burner`, [], "yes > /dev/null");

      await t.step("--dry-run (followed by a flag): aligned tables per interval", async () => {
        const headers = (s: string) => s.match(/^# containerStats, interval ending /gm) ?? [];
        const run = await runDaemon(["--dry-run", ...base], (s) => headers(s).length >= 3);
        assert.equal(run.code, 0, run.stderr);
        assert.ok(headers(run.stdout).length >= 3, run.stdout);
        const lines = run.stdout.split("\n");
        // Lifecycle events of other containers may print their own table in between.
        const header = lines[lines.findIndex((l) => l.startsWith("# containerStats")) + 1];
        assert.ok(header, run.stdout);
        assert.match(
          header,
          /^host +name +.*cpu +memory_use +total_memory +net_io_in_delta +net_io_out_delta +block_io_in_delta +block_io_out_delta +pids +samples$/,
        );
        const burner = lines.find((l) => l.startsWith(node) && l.includes(`${prefix}burner`));
        assert.ok(burner, run.stdout);
        // Aligned: the burner's samples end where the header's `samples` ends.
        assert.equal(burner.trimEnd().length, header.length);
        assert.doesNotMatch(run.stdout, /\[(INFO|DEBUG|WARNING|ERROR)\]/, "no logs on stdout");
        assert.match(run.stderr, /Starting container-statsd: .*dryRun=table/);
        assert.match(run.stderr, /Stopped stdout: \d+ rows delivered, 0 undelivered/);
        assert.doesNotMatch(
          run.stderr,
          /\[(WARN|WARNING|ERROR)\]|Published \d+ rows/,
          "nothing sent",
        );
        assert.deepEqual([...Deno.readDirSync(spoolDir)], [], "nothing spooled");
      });

      await t.step("--dry-run=ilp: the exact ILP lines", async () => {
        // Until a burner line has a CPU: its first read has no window, so its first row has none.
        const withCpu = (l: string) => l.includes(`${prefix}burner`) && /[ ,]cpu=/.test(l);
        const run = await runDaemon(
          ["--dry-run=ilp", ...base],
          (s) => s.split("\n").length > 6 && s.split("\n").some(withCpu),
        );
        assert.equal(run.code, 0, run.stderr);
        assert.ok(run.stdout.endsWith("\n"));
        const rows = decodeIlp(run.stdout);
        assert.ok(rows.length >= 5);
        for (const r of rows) assert.equal(r.values.get("host"), node);
        const stats = rows.filter((r) => r.table === "containerStats");
        for (const r of stats) {
          assert.ok(r.timestampNs !== null && r.timestampNs % 1_000_000_000n === 0n, "aligned");
        }
        const burner = stats.filter((r) => r.values.get("name") === `${prefix}burner`);
        assert.ok(burner.length >= 1, run.stdout);
        assert.ok(burner.some((r) => typeof r.values.get("cpu") === "number"), run.stdout);
      });

      await t.step("--help under the start task's permissions lists both flags", async () => {
        const run = await runDaemon(["--help"], () => false);
        assert.equal(run.code, 0, run.stderr);
        assert.match(run.stdout, /^ {2}--dry-run \[format\] /m);
        assert.match(run.stdout, /^ {2}--retention <period> /m);
      });

      await t.step("--dry-run=json: one line naming the allowed values, exit 2", async () => {
        const run = await runDaemon(["--dry-run=json", ...common], () => false);
        assert.equal(run.code, 2);
        assert.equal(run.stdout, "");
        assert.equal(
          run.stderr,
          "error: option '--dry-run [format]' argument 'json' is invalid. " +
            "Allowed choices are table, ilp.\n",
        );
      });
    } finally {
      await removeContainers(prefix);
      await Deno.remove(spoolDir, { recursive: true }).catch(() => {});
    }
  },
});
