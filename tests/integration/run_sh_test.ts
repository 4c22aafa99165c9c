/**
 * run.sh: shellcheck-clean, and start/status/stop/restart against
 * - a small stand-in script (CONTAINER_STATSD_BIN) for the lifecycle mechanics that a real
 *   daemon cannot be made to show on demand: a daemon that ignores SIGTERM, one that fails at
 *   start, the arguments and environment it receives;
 * - the real daemon (main.ts through `deno run` with deno.json's start task, or the compiled
 *   binary when dist/ has one), with QuestDB unreachable, which it survives.
 *
 * Every process is started in its own temporary run/log directory and stopped in `finally`.
 * Tests needing a missing tool (shellcheck, the docker CLI, deno) are ignored with a printed
 * reason, except under CI=true, where they fail (tests/helpers/requires.ts).
 *
 * Run with: deno test --allow-read --allow-write --allow-env --allow-run
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { requires } from "../helpers/requires.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const RUN_SH = `${ROOT}/run.sh`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function runSh(args: string[], env: Record<string, string>): Promise<Result> {
  const out = await new Deno.Command(RUN_SH, { args, env, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT"); // harmless probe, like kill -0
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A temporary run/log directory with the environment that points run.sh at it. */
async function sandbox(): Promise<{ dir: string; env: Record<string, string> }> {
  const dir = await Deno.makeTempDir({ prefix: "run-sh-test-" });
  return {
    dir,
    env: {
      CONTAINER_STATSD_RUN_DIR: `${dir}/run`,
      CONTAINER_STATSD_LOG_DIR: `${dir}/log`,
      CONTAINER_STATSD_BIN: "",
      // systemd variables that run.sh must keep from the daemon.
      NOTIFY_SOCKET: "@should-not-reach-the-daemon",
      WATCHDOG_USEC: "1000000",
    },
  };
}

/** Kills whatever a failed test left running in this sandbox (only processes it started). */
async function cleanup(dir: string): Promise<void> {
  for (const file of [`${dir}/run/container-statsd.pid`, `${dir}/standin.child`]) {
    try {
      const pid = Number((await Deno.readTextFile(file)).trim());
      if (pid > 0 && alive(pid)) Deno.kill(pid, "SIGKILL");
    } catch {
      // nothing there
    }
  }
  await Deno.remove(dir, { recursive: true });
}

const STANDIN = `#!/usr/bin/env bash
# Stand-in for the daemon: records its arguments and environment, then runs until SIGTERM.
dir=$STANDIN_DIR
printf '%s\\n' "$@" >"$dir/standin.args"
echo "NOTIFY_SOCKET=\${NOTIFY_SOCKET-unset} WATCHDOG_USEC=\${WATCHDOG_USEC-unset}" >"$dir/standin.env"
case \${STANDIN_MODE:-} in
  fail)
    echo "error: option '--bogus' is unknown" >&2
    exit 2
    ;;
  stubborn)
    trap '' TERM
    sleep 300 &
    echo "$!" >"$dir/standin.child"
    while :; do wait; done
    ;;
esac
trap 'echo TERM >>"$dir/standin.signals"; sleep 0.3; echo "final publish done"; exit 0' TERM
echo "stand-in running"
sleep 300 &
wait "$!"
`;

async function writeStandin(dir: string): Promise<string> {
  const path = `${dir}/standin`;
  await Deno.writeTextFile(path, STANDIN, { mode: 0o755 });
  return path;
}

Deno.test({
  name: "run.sh is shellcheck-clean",
  ignore: await requires("shellcheck"),
  fn: async () => {
    const out = await new Deno.Command("shellcheck", { args: [RUN_SH] }).output();
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    assert.equal(text, "");
    assert.equal(out.code, 0);
  },
});

Deno.test("run.sh: usage errors exit 2; status/stop when nothing runs", async () => {
  const { dir, env } = await sandbox();
  try {
    assert.equal((await runSh([], env)).code, 2);
    assert.equal((await runSh(["frobnicate"], env)).code, 2);
    const status = await runSh(["status"], env);
    assert.equal(status.code, 3);
    assert.match(status.stdout, /not running/);
    const stop = await runSh(["stop"], env);
    assert.equal(stop.code, 0);
    assert.match(stop.stdout, /not running/);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("run.sh lifecycle with a stand-in: start, refuse twice, status, stop by SIGTERM", async () => {
  const { dir, env } = await sandbox();
  const standin = await writeStandin(dir);
  const e = {
    ...env,
    CONTAINER_STATSD_BIN: standin,
    CONTAINER_STATSD_START_WAIT: "0.3",
    STANDIN_DIR: dir,
  };
  try {
    const start = await runSh(["start", "--node", "a b", "--interval", "5s"], e);
    assert.equal(start.code, 0, start.stderr);
    const pid = Number((await Deno.readTextFile(`${dir}/run/container-statsd.pid`)).trim());
    assert.ok(pid > 0 && alive(pid));
    assert.match(start.stdout, new RegExp(`started \\(pid ${pid}\\)`));

    // The daemon gets the flags verbatim, then --watchdog disabled; no systemd variables.
    assert.deepEqual(
      (await Deno.readTextFile(`${dir}/standin.args`)).trimEnd().split("\n"),
      ["--node", "a b", "--interval", "5s", "--watchdog", "disabled"],
    );
    assert.equal(
      (await Deno.readTextFile(`${dir}/standin.env`)).trim(),
      "NOTIFY_SOCKET=unset WATCHDOG_USEC=unset",
    );

    const again = await runSh(["start", "--node", "x"], e);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already running/);

    const status = await runSh(["status"], e);
    assert.equal(status.code, 0);
    assert.match(status.stdout, new RegExp(`running \\(pid ${pid}\\)`));

    const stop = await runSh(["stop"], e);
    assert.equal(stop.code, 0, stop.stderr);
    assert.ok(!alive(pid), "still alive after stop");
    assert.equal((await Deno.readTextFile(`${dir}/standin.signals`)).trim(), "TERM");
    assert.ok(!exists(`${dir}/run/container-statsd.pid`), "pid file left behind");
    const log = await Deno.readTextFile(`${dir}/log/container-statsd.log`);
    assert.match(log, /stand-in running/);
    assert.match(log, /final publish done/); // it was given the time to finish
    assert.equal((await runSh(["status"], e)).code, 3);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("run.sh restart replaces the process", async () => {
  const { dir, env } = await sandbox();
  const e = {
    ...env,
    CONTAINER_STATSD_BIN: await writeStandin(dir),
    CONTAINER_STATSD_START_WAIT: "0.3",
    STANDIN_DIR: dir,
  };
  try {
    assert.equal((await runSh(["start", "--node", "one"], e)).code, 0);
    const first = Number((await Deno.readTextFile(`${dir}/run/container-statsd.pid`)).trim());
    const restart = await runSh(["restart", "--node", "two"], e);
    assert.equal(restart.code, 0, restart.stderr);
    const second = Number((await Deno.readTextFile(`${dir}/run/container-statsd.pid`)).trim());
    assert.notEqual(second, first);
    assert.ok(!alive(first) && alive(second));
    assert.match(await Deno.readTextFile(`${dir}/standin.args`), /^--node\ntwo\n/);
    assert.equal((await runSh(["stop"], e)).code, 0);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("run.sh stop: SIGKILL to the process group after the timeout", async () => {
  const { dir, env } = await sandbox();
  const e = {
    ...env,
    CONTAINER_STATSD_BIN: await writeStandin(dir),
    CONTAINER_STATSD_START_WAIT: "0.3",
    CONTAINER_STATSD_STOP_TIMEOUT: "1",
    STANDIN_DIR: dir,
    STANDIN_MODE: "stubborn",
  };
  try {
    assert.equal((await runSh(["start", "--node", "x"], e)).code, 0);
    const pid = Number((await Deno.readTextFile(`${dir}/run/container-statsd.pid`)).trim());
    const child = Number((await Deno.readTextFile(`${dir}/standin.child`)).trim());
    assert.ok(alive(pid) && alive(child));
    const began = performance.now();
    const stop = await runSh(["stop"], e);
    const tookMs = performance.now() - began;
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stderr, /still running after 1s; sending SIGKILL/);
    assert.ok(tookMs >= 1_000, `stop took ${tookMs} ms`);
    await sleep(100);
    assert.ok(!alive(pid), "daemon survived SIGKILL");
    assert.ok(!alive(child), "its child (think docker stats) survived");
  } finally {
    await cleanup(dir);
  }
});

Deno.test("run.sh start: a daemon that exits at once fails the start and shows its log", async () => {
  const { dir, env } = await sandbox();
  const e = {
    ...env,
    CONTAINER_STATSD_BIN: await writeStandin(dir),
    CONTAINER_STATSD_START_WAIT: "0.5",
    STANDIN_DIR: dir,
    STANDIN_MODE: "fail",
  };
  try {
    const start = await runSh(["start", "--bogus"], e);
    assert.equal(start.code, 1);
    assert.match(start.stderr, /failed to start/);
    assert.match(start.stderr, /option '--bogus' is unknown/);
    assert.equal((await runSh(["status"], e)).code, 3);
  } finally {
    await cleanup(dir);
  }
});

Deno.test("run.sh status: a pid file naming some other process is stale", async () => {
  const { dir, env } = await sandbox();
  const other = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await Deno.mkdir(`${dir}/run`, { recursive: true });
    await Deno.writeTextFile(`${dir}/run/container-statsd.pid`, `${other.pid}\n`);
    const status = await runSh(["status"], env);
    assert.equal(status.code, 3);
    assert.ok(!exists(`${dir}/run/container-statsd.pid`));
    assert.equal((await runSh(["stop"], env)).code, 0);
    assert.ok(alive(other.pid), "stop must not signal a process it did not start");
  } finally {
    other.kill("SIGKILL");
    await other.status;
    await cleanup(dir);
  }
});

Deno.test({
  name:
    "run.sh drives the real daemon as its example does (--source cgroup --disks /, no bind): start, status, SIGTERM stop",
  // The daemon exits at once without the docker CLI; run.sh starts it with deno.
  ignore: await requires("docker-cli", "deno"),
  fn: async () => {
    const { dir, env } = await sandbox();
    const e = {
      ...env,
      // The spool of undelivered rows goes to the sandbox, not ~/.local/state.
      STATE_DIRECTORY: `${dir}/state`,
      CONTAINER_STATSD_START_WAIT: "2",
      LOG_LEVEL: "info",
    };
    try {
      const start = await runSh(
        [
          "start",
          "--node",
          "test",
          "--source",
          "cgroup",
          "--disks",
          "/",
          "--questdb",
          "http::addr=127.0.0.1:1;",
          "--interval",
          "5s",
        ],
        e,
      );
      assert.equal(start.code, 0, start.stdout + start.stderr);
      const pid = Number((await Deno.readTextFile(`${dir}/run/container-statsd.pid`)).trim());
      // Several seconds against an unreachable QuestDB: the daemon keeps running.
      await sleep(3_000);
      const status = await runSh(["status"], e);
      assert.equal(status.code, 0, status.stdout);
      assert.ok(alive(pid));

      const began = performance.now();
      const stop = await runSh(["stop"], e);
      const tookMs = performance.now() - began;
      assert.equal(stop.code, 0, stop.stderr);
      assert.ok(!alive(pid));
      assert.ok(!/SIGKILL/.test(stop.stderr), `needed SIGKILL after ${tookMs} ms`);
      const log = await Deno.readTextFile(`${dir}/log/container-statsd.log`);
      assert.match(log, /--watchdog disabled/);
      assert.match(log, /watchdog="?disabled/);
      assert.match(log, /Received "?SIGTERM/);
      assert.match(log, /Stopped questdb: /);
      // The host's files, read directly: the cgroup source started, and / was never skipped.
      assert.match(log, /The cgroup source is producing; ready/);
      assert.ok(!/disk "\/"/.test(log), log);
      // (The start line run.sh writes lists the --allow-env names; only daemon lines count.)
      assert.ok(
        !/\] container-statsd.*NOTIFY_SOCKET/.test(log),
        "the daemon looked at NOTIFY_SOCKET",
      );
      assert.equal((await runSh(["status"], e)).code, 3);
    } finally {
      await runSh(["stop"], { ...e, CONTAINER_STATSD_STOP_TIMEOUT: "2" });
      await cleanup(dir);
    }
  },
});
