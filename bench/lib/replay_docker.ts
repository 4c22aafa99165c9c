/**
 * A stand-in for `docker stats`: writes a recording (fixture format) to stdout at its recorded
 * pace, over and over, until killed. bench/replay.ts runs it as `docker stats` of the stand-in
 * `docker` (lib/stand_in_docker.ts) put first on the daemon's PATH.
 *
 * Run: deno run --allow-read bench/lib/replay_docker.ts <recording.jsonl>
 */
import { readRecordingFile } from "./workloads.ts";

const file = Deno.args[0];
if (!file) throw new Error("usage: replay_docker.ts <recording.jsonl>");
const chunks = readRecordingFile(file);
const period = (chunks[chunks.length - 1]?.t ?? 0) + 0.5;
const t0 = performance.now();
for (let lap = 0;; lap++) {
  for (const c of chunks) {
    const due = t0 + (lap * period + c.t) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    let off = 0;
    while (off < c.bytes.length) off += await Deno.stdout.write(c.bytes.subarray(off));
  }
}
