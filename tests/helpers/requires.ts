/**
 * The gate of every integration test: what it needs from the machine, checked once per test
 * process.
 *
 * ```ts
 * Deno.test({ name: "...", ignore: await requires("docker", "questdb"), fn: ... });
 * ```
 *
 * When something is missing the test is ignored and the reason printed, never run to return
 * early and show green. Under `CI=true` a missing need is a failure instead: the test is
 * ignored and a test named after the reason fails in its place (`.ci/run` installs
 * everything, so nothing may be ignored there).
 *
 * @module
 */
import { engineAnswers, findOnPath } from "../../src/engine/cli.ts";
import { findQuestDBJar } from "./questdb.ts";

/** What an integration test can need. */
export type Need =
  /** A Docker engine that answers `docker version` (and the CLI on PATH). */
  | "docker"
  /** The docker CLI on PATH (no engine needed). */
  | "docker-cli"
  /** `deno` on PATH (to start the daemon from a script). */
  | "deno"
  /** A QuestDB server jar (QUESTDB_JAR or ~/.m2) and `java` on PATH. */
  | "questdb"
  /** `influxd` on PATH (Debian's `influxdb`, InfluxDB 1.x). */
  | "influxdb"
  /** `victoria-metrics` on PATH (Debian's `victoria-metrics`). */
  | "victoria-metrics"
  /** `node`, and npm's `statsd` package or `npm` to install it (tests/helpers/statsd.ts). */
  | "statsd"
  /** `carbon-cache` and `whisper-fetch` on PATH (Debian's graphite-carbon, python3-whisper). */
  | "carbon"
  /** `prometheus` and `promtool` on PATH (Debian's `prometheus`). */
  | "prometheus"
  /** uid 0 (e.g. `mount --rbind` for --host-root). */
  | "root"
  /** `shellcheck` on PATH. */
  | "shellcheck"
  /** `systemd-analyze` on PATH. */
  | "systemd-analyze"
  /**
   * Leave to kill and restart dockerd: only on a machine whose engine the tests own, i.e.
   * under CI=true or with STATSD_KILL_DOCKERD=1.
   */
  | "dockerd-killable";

const CI = Deno.env.get("CI") === "true";

/** Whether `name` is an executable in PATH. */
const onPath = (name: string): boolean => findOnPath(name) !== null;

/** Each need's check: null when met, else why not. */
const CHECKS: Record<Need, () => Promise<string | null>> = {
  docker: async () =>
    (await engineAnswers("docker"))
      ? null
      : "no Docker engine answers `docker version` (start dockerd as .ci/run does)",
  "docker-cli": () =>
    Promise.resolve(onPath("docker") ? null : "the docker CLI is not on PATH (apt-get install)"),
  deno: () => Promise.resolve(onPath("deno") ? null : "deno is not on PATH"),
  questdb: () =>
    Promise.resolve(
      findQuestDBJar() === null
        ? "no QuestDB server jar (set QUESTDB_JAR, or mvn dependency:get as .ci/run does)"
        : !onPath("java")
        ? "java is not on PATH (QuestDB's server runs on it)"
        : null,
    ),
  influxdb: () =>
    Promise.resolve(onPath("influxd") ? null : "influxd is not on PATH (apt-get install influxdb)"),
  "victoria-metrics": () =>
    Promise.resolve(
      onPath("victoria-metrics")
        ? null
        : "victoria-metrics is not on PATH (apt-get install victoria-metrics)",
    ),
  statsd: () =>
    Promise.resolve(
      !onPath("node")
        ? "node is not on PATH (Etsy's StatsD runs on it)"
        : Deno.env.get("STATSD_PACKAGE_DIR") === undefined && !onPath("npm")
        ? "neither STATSD_PACKAGE_DIR nor npm (to install the statsd package)"
        : null,
    ),
  carbon: () =>
    Promise.resolve(
      onPath("carbon-cache") && onPath("whisper-fetch")
        ? null
        : "carbon-cache or whisper-fetch is not on PATH (apt-get install graphite-carbon " +
          "python3-whisper)",
    ),
  prometheus: () =>
    Promise.resolve(
      onPath("prometheus") && onPath("promtool")
        ? null
        : "prometheus or promtool is not on PATH (apt-get install prometheus)",
    ),
  root: () => Promise.resolve(Deno.uid() === 0 ? null : "not root (mount --rbind needs it)"),
  shellcheck: () =>
    Promise.resolve(onPath("shellcheck") ? null : "shellcheck is not on PATH (apt-get install)"),
  "systemd-analyze": () =>
    Promise.resolve(
      onPath("systemd-analyze") ? null : "systemd-analyze is not on PATH (apt-get install systemd)",
    ),
  "dockerd-killable": () =>
    Promise.resolve(
      CI || Deno.env.get("STATSD_KILL_DOCKERD") === "1"
        ? null
        : "kills dockerd: runs under CI=true or with STATSD_KILL_DOCKERD=1",
    ),
};

const checked = new Map<Need, Promise<string | null>>();
const failedUnderCi = new Set<string>();

/**
 * The `ignore` value of a test that needs `needs`.
 *
 * @param needs what the test needs; each is checked once per process.
 * @returns false when every need is met. Otherwise true, with the reason printed; under
 *   `CI=true` it also registers a failing test that names the reason, so the run fails.
 */
export async function requires(...needs: Need[]): Promise<boolean> {
  const reasons: string[] = [];
  for (const need of needs) {
    let check = checked.get(need);
    if (check === undefined) {
      check = CHECKS[need]();
      checked.set(need, check);
    }
    const reason = await check;
    if (reason !== null) reasons.push(reason);
  }
  if (reasons.length === 0) return false;
  const reason = reasons.join("; ");
  if (!CI) {
    console.log(`IGNORED (needs ${needs.join(", ")}): ${reason}`);
    return true;
  }
  if (!failedUnderCi.has(reason)) {
    failedUnderCi.add(reason);
    Deno.test(`CI=true, but an integration test cannot run: ${reason}`, () => {
      throw new Error(`CI=true requires every integration test to run: ${reason}`);
    });
  }
  return true;
}
