/**
 * Gate for integration tests: with CI=true the real Docker engine and QuestDB are mandatory
 * (a missing one fails the test); elsewhere a missing one skips the test with a printed reason.
 */
import { dockerAvailable } from "./docker.ts";
import { findQuestDBJar } from "./questdb.ts";

/** Checked once per test process. */
let cached: Promise<string | null> | null = null;

/** @returns null when both engines are there, else the reason they are not. */
export function missingEngines(): Promise<string | null> {
  cached ??= (async () => {
    const missing: string[] = [];
    if (!(await dockerAvailable())) missing.push("no Docker engine answers `docker version`");
    if (!findQuestDBJar()) missing.push("no QuestDB jar (QUESTDB_JAR or ~/.m2)");
    return missing.length ? missing.join("; ") : null;
  })();
  return cached;
}

/**
 * Whether to run an integration test: true when the engines are there; throws under CI when
 * they are not; prints the reason and returns false elsewhere.
 */
export async function integrationReady(name: string): Promise<boolean> {
  const reason = await missingEngines();
  if (reason === null) return true;
  if (Deno.env.get("CI") === "true") throw new Error(`CI=true but ${reason}`);
  console.log(`SKIPPED ${name}: ${reason} (run .ci/run to install them)`);
  return false;
}
