/**
 * Golden end to end without an engine (the `expected.out` pattern of Telegraf's docker input):
 * the daemon's own process (main.ts, with the start task's permissions) reads a committed real
 * recording of `docker stats` through a stand-in `docker` on PATH, and the ILP it sends must
 * equal the committed golden file byte for byte, in both modes.
 *
 * - The stand-in `docker` is a shell script generated into a temporary directory: `stats`
 *   replays the recording's bytes (decoded from tests/fixtures/<recording>.jsonl) once and
 *   ends; a later `stats` (the daemon restarts a child that ended) hangs until killed;
 *   `version` answers. The recording itself stays the real one. The catalog's engine socket
 *   (DOCKER_HOST) does not exist, so every row goes out under its stats name.
 * - QuestDB is replaced by a local HTTP stand-in that answers `/write` with 204 and keeps the
 *   bodies, and `/exec` (table creation) with success: the golden must not depend on a
 *   QuestDB server (its bytes are checked against a real one in tests/integration/).
 * - The designated timestamp is the interval's end, which depends on the wall clock. With a
 *   15-minute interval and the recording replayed at once, every row falls in one interval,
 *   published at SIGTERM as the partial interval: the test checks that all rows share one
 *   timestamp aligned to 15 minutes, then writes it as {@link NORMALISED_NS} for the
 *   comparison. A run that straddled a 15-minute boundary (rows with two timestamps) is run
 *   again: two runs a few seconds apart cannot both straddle one.
 *
 * `UPDATE_GOLDEN=1 deno task test:unit` rewrites tests/fixtures/golden/*.ilp from the current
 * daemon; review the diff before committing it.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { startDaemon } from "../helpers/daemon.ts";

/** Real recordings (tests/fixtures/README.md): four containers, and block I/O with a CPU burst. */
const RECORDINGS = ["cli28-notrunc.jsonl", "cli28-blockio.jsonl"];
const INTERVAL_MS = 15 * 60_000;
/** The interval end every golden row is normalised to: 1970-01-01T00:15:00Z, in ns. */
const NORMALISED_NS = "900000000000";
const UPDATE = Deno.env.get("UPDATE_GOLDEN") === "1";

const fixture = (name: string) => new URL(`../fixtures/${name}`, import.meta.url);

/** The recording's bytes, as the CLI wrote them. */
function recordingBytes(name: string): Uint8Array {
  const chunks = Deno.readTextFileSync(fixture(name)).split("\n").filter((l) => l.trim() !== "")
    .map((l) => Buffer.from((JSON.parse(l) as { b64: string }).b64, "base64"));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Writes the stand-in `docker` and the bytes it replays into `dir`. */
async function writeStandIn(dir: string, recording: string): Promise<void> {
  await Deno.writeFile(`${dir}/stats.bin`, recordingBytes(recording));
  await Deno.writeTextFile(
    `${dir}/docker`,
    `#!/bin/sh
# Stand-in docker for tests/unit/golden_test.ts: replays ${recording} once.
PATH=/usr/bin:/bin
DIR='${dir}'
case "$1" in
  version) echo 20.10.24 ;;
  stats)
    [ -e "$DIR/replayed" ] && exec sleep 3600
    : > "$DIR/replayed"
    exec cat "$DIR/stats.bin" ;;
  events) exec sleep 3600 ;;
  ps) ;;
  *) echo "stand-in docker: no '$1' here" >&2; exit 1 ;;
esac
`,
    { mode: 0o755 },
  );
}

/** A local stand-in for QuestDB's HTTP endpoint that keeps every `/write` body. */
function questdbStandIn(): { port: number; bodies: string[]; close(): Promise<void> } {
  const bodies: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method === "POST" && url.pathname === "/write") {
      bodies.push(await req.text());
      return new Response(null, { status: 204 });
    }
    if (url.pathname === "/exec") {
      const query = url.searchParams.get("query") ?? "";
      const answer = query.startsWith("SELECT")
        ? { columns: [{ name: "dedup", type: "BOOLEAN" }], dataset: [[true]], count: 1 }
        : { ddl: "OK" };
      return Response.json(answer);
    }
    return new Response("not here", { status: 404 });
  });
  return { port: server.addr.port, bodies, close: () => server.shutdown() };
}

/** Runs the daemon over `recording` in `mode`; returns the ILP lines it sent. */
async function runDaemon(recording: string, mode: "avg" | "max"): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "tt-golden-" });
  const questdb = questdbStandIn();
  try {
    await writeStandIn(dir, recording);
    const daemon = startDaemon([
      "--node",
      "golden",
      "--mode",
      mode,
      "--interval",
      "15",
      "--questdb",
      `http::addr=127.0.0.1:${questdb.port};`,
      "--watchdog",
      "disabled",
      "--spool-dir",
      `${dir}/spool`,
    ], {
      PATH: `${dir}:${Deno.env.get("PATH") ?? ""}`,
      // No engine for the catalog: the rows go out under their stats names, as with none here.
      DOCKER_HOST: `unix://${dir}/no-engine.sock`,
    });
    try {
      // The replay ended: every byte of the recording was parsed (the end flushes the parser).
      await Promise.race([
        daemon.waitForLog(/docker stats exited \(status 0\)/, 30_000),
        daemon.child.status.then((s) => assert.fail(`the daemon exited with status ${s.code}`)),
      ]);
    } finally {
      const { code } = await daemon.stop("SIGTERM");
      assert.equal(code, 0, daemon.lines.join("\n"));
    }
    assert.ok(daemon.lines.some((l) => /Published \d+ rows/.test(l)), daemon.lines.join("\n"));
    return questdb.bodies.join("").split("\n").filter((l) => l !== "");
  } finally {
    await questdb.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The ILP the daemon sends, its one interval end replaced by {@link NORMALISED_NS}. */
async function normalisedIlp(recording: string, mode: "avg" | "max"): Promise<string> {
  for (let attempt = 1;; attempt++) {
    const lines = await runDaemon(recording, mode);
    assert.ok(lines.length > 0, "the daemon sent rows");
    const stamps = new Set(lines.map((l) => l.slice(l.lastIndexOf(" ") + 1)));
    if (stamps.size > 1 && attempt === 1) continue; // straddled a 15-minute boundary
    assert.equal(stamps.size, 1, `one interval end for all rows: ${[...stamps].join(", ")}`);
    const [stamp] = stamps as Set<string>;
    assert.equal(BigInt(stamp!) % BigInt(INTERVAL_MS * 1e6), 0n, "aligned to 15 minutes");
    return lines.map((l) => `${l.slice(0, l.lastIndexOf(" "))} ${NORMALISED_NS}\n`).join("");
  }
}

/** What each golden must hold, so that a regenerated file cannot quietly lose it. */
const EXPECTED: Record<string, (ilp: string) => void> = {
  "cli28-notrunc.jsonl": (ilp) => {
    for (const n of ["mem", "idle", "burner", "short"]) {
      assert.match(ilp, new RegExp(`,name=${n} `));
    }
  },
  "cli28-blockio.jsonl": (ilp) => {
    // block_io_in went from 41.9 MB to 189 MB during the recording (`%.3g` steps of 1 MB).
    assert.match(ilp, /,name=tt-io .*,block_io_in_delta=147100000i,/);
    assert.match(ilp, /,name=tt-io-cpu /);
  },
};

for (const recording of RECORDINGS) {
  for (const mode of ["avg", "max"] as const) {
    Deno.test(`golden: ${recording} through the daemon in ${mode} mode gives the committed ILP`, async () => {
      const golden = fixture(`golden/${recording.replace(".jsonl", "")}.${mode}.ilp`);
      const ilp = await normalisedIlp(recording, mode);
      if (UPDATE) {
        await Deno.writeTextFile(golden, ilp);
        console.log(`UPDATE_GOLDEN=1: wrote ${golden.pathname}`);
      }
      const expected = await Deno.readTextFile(golden);
      assert.equal(ilp, expected, `differs from ${golden.pathname} (UPDATE_GOLDEN=1 rewrites it)`);
      const names = ilp.split("\n").filter((l) => l).map((l) => /,name=([^, ]+)/.exec(l)?.[1]);
      assert.equal(new Set(names).size, names.length, "one row per container");
      EXPECTED[recording]!(ilp);
    });
  }
}
