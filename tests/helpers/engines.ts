/**
 * Whether the real Docker engine and QuestDB are here. A test gates itself with
 * `ignore: await requires("docker", "questdb")` (./requires.ts), which also fails it under
 * CI=true; this helper only says what is missing.
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
