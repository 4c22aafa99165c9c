/**
 * The catalog's engine calls answered from the API recordings of tests/fixtures/catalog/
 * (dockerd 20.10, recorded with curl by record.sh): the listing from containers.json, the
 * inspect from inspect.json (taken before ct-rec-life was renamed and restarted) or
 * inspect-later.json (after), so unit tests need no engine.
 */
import type { CatalogEngine } from "../../src/catalog/catalog.ts";
import {
  type Inspected,
  type Listed,
  parseContainerList,
  parseInspect,
} from "../../src/catalog/listing.ts";

const DIR = new URL("../fixtures/catalog/", import.meta.url);

/** A fixture file's text. */
export const readFixture = (name: string): string => Deno.readTextFileSync(new URL(name, DIR));

/** The recorded event stream, one JSON object per line. */
export const EVENT_LINES: readonly string[] = readFixture("events.jsonl").split("\n")
  .filter((l) => l !== "");
/** The recorded listing (`GET /containers/json?all=1`). */
export const LISTING: readonly Listed[] = parseContainerList(
  JSON.parse(readFixture("containers.json")),
);
/** The inspects before the rename and restart. */
export const BEFORE: readonly Inspected[] = (JSON.parse(readFixture("inspect.json")) as unknown[])
  .map(parseInspect);
/** The inspects after them. */
export const AFTER: readonly Inspected[] = (
  JSON.parse(readFixture("inspect-later.json")) as unknown[]
).map(parseInspect);
/** A recorded container's full ID by (any of its) names. */
export const idOf = (name: string): string =>
  [...BEFORE, ...AFTER].find((c) => c.name === name)!.id;

/** Answers from the recordings; `after` switches to the inspects taken after the restart. */
export class RecordedEngine implements CatalogEngine {
  /** Answer with inspect-later.json first. */
  after = false;
  /** The listing it answers. */
  listing: readonly Listed[] = LISTING;
  /** Calls made: `list`, or `inspect <name>`. */
  calls: string[] = [];
  /** When set, `inspect` of these IDs fails (the engine's answer of a 500, say). */
  failing = new Set<string>();

  /** @inheritdoc */
  list(): Promise<Listed[]> {
    this.calls.push("list");
    return Promise.resolve([...this.listing]);
  }

  /** @inheritdoc */
  inspect(id: string): Promise<Inspected | null> {
    const [first, second] = this.after ? [AFTER, BEFORE] : [BEFORE, AFTER];
    const found = first.find((c) => c.id === id) ?? second.find((c) => c.id === id) ?? null;
    this.calls.push(`inspect ${found?.name ?? id.slice(0, 12)}`);
    if (this.failing.has(id)) return Promise.reject(new Error("engine answered 500"));
    return Promise.resolve(found);
  }
}
