/**
 * The deployments of docs/deploy.md that can run here, each started as the README says (the
 * daemon's own process with deno.json's start task flags, which grant every permission), with
 * no bind and no --host-root, against the real engine and a real QuestDB:
 * - the user service: a non-root user (uid 65534) in the docker group, `--source cgroup
 *   --disks /` as the user unit runs it: diskStats rows agree with `df` within 0.5 % of the
 *   size, and the containers get rows;
 * - the system service: root, `--source cgroup`: rows for running containers, and a 2 s burner
 *   (`sh -c 'timeout 2 yes >/dev/null; exit 0'`) gets a max-mode row of at least 50 % CPU
 *   (on a shared host so loaded that the burner itself got less, as busybox `times` tells, at
 *   least half of what it got);
 * - `--source docker` on a host whose cgroups are readable says once that --source cgroup
 *   would see short jobs, and says nothing when they are not readable.
 *
 * Not run here: systemd itself (no systemd as PID 1; the units are verified in
 * systemd_units_test.ts) and the image (no registry, and `deno compile` needs dl.deno.land;
 * --host-root under a bind is exercised by cgroup_test.ts). Needs root (to switch to another
 * user), a Docker engine and a QuestDB jar; under CI=true they are mandatory, elsewhere a
 * missing one ignores the test with its reason.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { launchDaemon, READY_LINE, startDaemon, testServerArgs } from "../helpers/daemon.ts";
import { ensureBusyboxImage, removeContainers, runContainer, sh } from "../helpers/docker.ts";
import { type QuestDB, startQuestDB } from "../helpers/questdb.ts";
import { requires } from "../helpers/requires.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = `${ROOT}main.ts`;
/** The user the user service runs as: `nobody`, given the docker socket's group. */
const UID = 65534;
const SUGGESTION = /--source cgroup would also see short-lived containers/;

/** Sleeps until `ms` past the start of the next interval of `intervalMs`. */
function untilIntervalOffset(intervalMs: number, ms: number): Promise<void> {
  const at = (Math.floor(Date.now() / intervalMs) + 1) * intervalMs + ms;
  return new Promise((r) => setTimeout(r, at - Date.now()));
}

/** `df -B1` of a path: bytes available and total. */
async function df(path: string): Promise<{ avail: number; size: number }> {
  const out = await sh("df", ["-B1", "--output=avail,size", path]);
  const [avail, size] = (out.split("\n")[1] ?? "").trim().split(/\s+/).map(Number);
  assert.ok(avail !== undefined && size !== undefined && size > 0, out);
  return { avail, size };
}

/**
 * The CPU a burner's `timeout 2 yes` got over its 2 s, in percent of a core, from busybox
 * `times` (second line: the children's user and system time, `0m1.950s 0m0.020s`).
 */
function burnerPercent(times: string): number {
  const children = times.trim().split("\n")[1] ?? "";
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)]
    .reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
  assert.ok(seconds > 0, `no children's times in ${JSON.stringify(times)}`);
  return seconds / 2 * 100;
}

/** Rows of one table for one host, as objects keyed by column name. */
async function rows(qdb: QuestDB, sql: string, atLeast = 1): Promise<Record<string, unknown>[]> {
  const r = await qdb.waitFor(sql, (res) => res.dataset.length >= atLeast, 60_000);
  return r.dataset.map((row) => Object.fromEntries(r.columns.map((c, i) => [c.name, row[i]])));
}

Deno.test({
  name: "user service: a non-root user in the docker group, --source cgroup --disks /, no bind",
  ignore: await requires("docker", "questdb", "root", "deno"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const prefix = `dep-u-${crypto.randomUUID().slice(0, 8)}-`;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const home = await Deno.makeTempDir({ prefix: "deploy-user-" });
    const dockerGid = await sh("stat", ["-c", "%g", "/var/run/docker.sock"]);
    const wrapper = ["setpriv", `--reuid=${UID}`, `--regid=${UID}`, `--groups=${dockerGid}`, "--"];
    const env = { HOME: home, DENO_DIR: `${home}/deno` };
    let daemon: ReturnType<typeof launchDaemon> | undefined;
    try {
      await sh("chown", [`${UID}:${UID}`, home]);
      // The user's own Deno cache (root's is not readable to it), filled as that user.
      const asUser = [...wrapper.slice(1), "env", `HOME=${home}`, `DENO_DIR=${home}/deno`];
      await sh(wrapper[0]!, [...asUser, "deno", "cache", "-q", MAIN]);
      await runContainer(`${prefix}sleeper`, [], "sleep 600");
      daemon = launchDaemon([
        "--node",
        "deploy-user",
        "--interval",
        "5s",
        "--source",
        "cgroup",
        "--disks",
        "/",
        "--events",
        "disabled",
        "--include",
        `${prefix}*`,
        ...testServerArgs(qdb.httpPort, `${home}/spool`),
      ], { env, wrapper, logLevel: "info" });
      await daemon.waitForLog(READY_LINE, 60_000);
      const pid = String(daemon.child.pid);
      assert.equal((await sh("ps", ["-o", "uid=", "-p", pid])).trim(), String(UID));
      assert.ok((await sh("ps", ["-o", "supgid=", "-p", pid])).split(",").includes(dockerGid));

      const [disk] = await rows(
        qdb,
        "SELECT name, mount_point, available_space, total_space FROM diskStats " +
          "WHERE host = 'deploy-user' ORDER BY timestamp DESC LIMIT 1",
      );
      const real = await df("/");
      console.log(`user service: diskStats ${JSON.stringify(disk)}; df / ${JSON.stringify(real)}`);
      assert.equal(disk?.mount_point, "/");
      const slack = 0.005 * real.size;
      assert.ok(Math.abs(Number(disk?.total_space) - real.size) <= slack, "total_space vs df");
      assert.ok(Math.abs(Number(disk?.available_space) - real.avail) <= slack, "avail vs df");
      const [row] = await rows(
        qdb,
        `SELECT name, samples FROM containerStats WHERE name = '${prefix}sleeper' LIMIT 1`,
      );
      assert.ok(Number(row?.samples) >= 1, JSON.stringify(row));
      const { code } = await daemon.stop();
      assert.equal(code, 0);
      const problems = daemon.lines.filter((l) => /\[(WARNING|ERROR)\]/.test(l));
      assert.deepEqual(problems, [], "no warnings: nothing was refused");
    } finally {
      if (daemon !== undefined) await daemon.stop("SIGKILL").catch(() => {});
      await removeContainers(prefix);
      await qdb.dispose();
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "system service: root, --source cgroup, no --host-root; a 2 s burner's max row >= 50 % (or half of what it got)",
  ignore: await requires("docker", "questdb", "root"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const prefix = `dep-s-${crypto.randomUUID().slice(0, 8)}-`;
    const intervalMs = 10_000;
    await ensureBusyboxImage();
    const qdb = await startQuestDB();
    const spool = await Deno.makeTempDir({ prefix: "deploy-system-" });
    let daemon: ReturnType<typeof startDaemon> | undefined;
    try {
      await runContainer(`${prefix}sleeper`, [], "sleep 600");
      daemon = startDaemon([
        "--node",
        "deploy-system",
        "--mode",
        "max",
        "--interval",
        "10s",
        "--source",
        "cgroup",
        "--events",
        "disabled",
        "--include",
        `${prefix}*`,
        ...testServerArgs(qdb.httpPort, spool),
      ]);
      await daemon.waitForLog(READY_LINE, 60_000);
      assert.ok(daemon.lines.some((l) => /cgroup v\d at \/sys\/fs\/cgroup;/.test(l)));
      await untilIntervalOffset(intervalMs, 1000);
      await runContainer(`${prefix}burner`, [], "timeout 2 yes >/dev/null; times; exit 0");
      await sh("docker", ["wait", `${prefix}burner`]);
      const got = burnerPercent(await sh("docker", ["logs", `${prefix}burner`]));
      const burner = await rows(
        qdb,
        `SELECT name, max(cpu) cpu, sum(samples) samples FROM containerStats ` +
          `WHERE name = '${prefix}burner'`,
      );
      const sleeper = await rows(
        qdb,
        `SELECT name, count() n FROM containerStats WHERE name = '${prefix}sleeper'`,
      );
      // 50 %, unless the shared host gave the burner less than that: then half of what it got
      // (its first sample has no CPU, and what it burnt before that first read is not seen).
      const floor = Math.min(50, 0.5 * got);
      console.log(
        `system service: burner ${JSON.stringify(burner[0])}; it used ${got.toFixed(1)} % of ` +
          `a core over its 2 s (sh times); the row must show >= ${floor.toFixed(1)} %`,
      );
      assert.ok(Number(sleeper[0]?.n) >= 1);
      assert.ok(Number(burner[0]?.cpu) >= floor, JSON.stringify(burner));
      assert.equal((await daemon.stop()).code, 0);
      assert.ok(!daemon.lines.some((l) => /\[ERROR\]/.test(l)), daemon.lines.join("\n"));
    } finally {
      if (daemon !== undefined) await daemon.stop("SIGKILL").catch(() => {});
      await removeContainers(prefix);
      await qdb.dispose();
      await Deno.remove(spool, { recursive: true });
    }
  },
});

Deno.test({
  name: "--source docker: one info line suggesting --source cgroup when the cgroups are readable",
  ignore: await requires("docker"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const empty = await Deno.makeTempDir({ prefix: "deploy-noroot-" });
    try {
      for (const [hostRoot, expected] of [["/", 1], [empty, 0]] as const) {
        const daemon = startDaemon([
          "--node",
          "deploy-docker",
          "--dry-run",
          "--interval",
          "1s",
          "--events",
          "disabled",
          "--watchdog",
          "disabled",
          "--host-root",
          hostRoot,
          "--spool-dir",
          `${empty}/spool`,
        ]);
        await daemon.waitForLog(READY_LINE, 60_000);
        assert.equal((await daemon.stop()).code, 0);
        const said = daemon.lines.filter((l) => SUGGESTION.test(l));
        assert.equal(said.length, expected, `--host-root ${hostRoot}:\n${said.join("\n")}`);
        if (expected > 0) assert.match(said[0]!, /\[INFO\].*a twentieth of the host CPU/);
      }
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  },
});
