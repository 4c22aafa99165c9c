/**
 * Labels as symbols: `--label KEY[=COLUMN]` puts the value of a container label into a SYMBOL
 * column of the container and lifecycle tables. Only the labels asked for are kept, so the
 * number of distinct symbol values stays bounded (Telegraf #1263, cAdvisor #2856).
 *
 * @module
 */
import { IlpEncoder } from "../ilp/encoder.ts";
import type { ColumnDecl } from "../schema/table.ts";

/** One label kept as a symbol column. */
export interface LabelColumn {
  /** Label key, e.g. `com.docker.compose.project`. */
  readonly key: string;
  /** Symbol column name, e.g. `compose_project`. */
  readonly column: string;
}

/** Kept unless `--label none`: the compose project and service. */
export const DEFAULT_LABELS: readonly LabelColumn[] = [
  { key: "com.docker.compose.project", column: "compose_project" },
  { key: "com.docker.compose.service", column: "compose_service" },
];

/** The `--label` value that turns {@link DEFAULT_LABELS} off. */
export const NO_DEFAULT_LABELS = "none";

/**
 * The column a label key gets when none is named: `.` and `-` become `_` (QuestDB forbids
 * both in column names).
 */
export function defaultColumnName(key: string): string {
  return key.replaceAll(/[.-]/g, "_");
}

/**
 * Checks a column name with the ILP encoder's own rules (as `validateTableName` does for
 * tables), so the flag and the encoder cannot disagree.
 * @throws {RangeError} from the encoder, naming the bad character.
 */
export function validateColumnName(name: string): string {
  new IlpEncoder().table("t").symbol(name, "");
  return name;
}

/**
 * Parses one `--label` value.
 * @param value `KEY`, `KEY=COLUMN`, or `none`.
 * @returns the label column, or `none`.
 * @throws {RangeError} when the key is empty or the column is not a valid ILP column name.
 */
export function parseLabelFlag(value: string): LabelColumn | typeof NO_DEFAULT_LABELS {
  if (value === NO_DEFAULT_LABELS) return NO_DEFAULT_LABELS;
  const eq = value.indexOf("=");
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key === "") throw new RangeError("Allowed: KEY, KEY=COLUMN or none, with a non-empty KEY.");
  const column = eq < 0 ? defaultColumnName(key) : value.slice(eq + 1);
  try {
    validateColumnName(column);
  } catch (e) {
    throw new RangeError(
      `${(e as Error).message.replace(/^IlpEncoder: /, "")}` +
        (eq < 0 ? "; name a column with KEY=COLUMN." : "."),
    );
  }
  return { key, column };
}

/**
 * The label columns a list of `--label` values gives: the defaults unless one value is `none`,
 * with a value for a default's key replacing that default, then the others in order.
 *
 * @param values parsed `--label` values.
 * @param reserved columns the tables already have (compared without case, as QuestDB does).
 * @throws {RangeError} naming the clash: a key given twice, two keys on one column, or a
 *   column the tables already have.
 */
export function resolveLabelColumns(
  values: readonly (LabelColumn | typeof NO_DEFAULT_LABELS)[],
  reserved: readonly string[],
): LabelColumn[] {
  const given = values.filter((v): v is LabelColumn => v !== NO_DEFAULT_LABELS);
  const keys = new Set<string>();
  for (const v of given) {
    if (keys.has(v.key)) throw new RangeError(`Label '${v.key}' is given twice.`);
    keys.add(v.key);
  }
  const defaults = values.includes(NO_DEFAULT_LABELS)
    ? []
    : DEFAULT_LABELS.filter((d) => !keys.has(d.key));
  const out = [...defaults, ...given];
  const taken = new Map(reserved.map((c) => [c.toLowerCase(), ""]));
  for (const l of out) {
    const lower = l.column.toLowerCase();
    const by = taken.get(lower);
    if (by === "") {
      throw new RangeError(
        `Column '${l.column}' of label '${l.key}' clashes with a column the tables already ` +
          "have; name another with KEY=COLUMN.",
      );
    }
    if (by !== undefined) {
      throw new RangeError(`Labels '${by}' and '${l.key}' both map to column '${l.column}'.`);
    }
    taken.set(lower, l.key);
  }
  return out;
}

/**
 * Symbol column declarations for the label columns, to add with `withSymbols`
 * (src/schema/table.ts).
 * @param labels the label columns.
 * @param labelsOf the labels of a row's container, if known.
 */
export function labelSymbols<R>(
  labels: readonly LabelColumn[],
  labelsOf: (row: R) => Readonly<Record<string, string>> | undefined,
): ColumnDecl<R>[] {
  return labels.map((l) => ({
    name: l.column,
    type: "SYMBOL",
    unit: "text",
    value: (row: R) => labelsOf(row)?.[l.key],
  }));
}
