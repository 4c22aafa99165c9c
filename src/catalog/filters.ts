/**
 * Which containers the daemon follows: `--include`/`--exclude` name globs and
 * `--include-label`/`--exclude-label` label matches, the same for every source and table.
 *
 * A container passes when its name matches one `--include` (if any is given), its labels match
 * one `--include-label` (if any is given), and it matches no `--exclude` and no
 * `--exclude-label`: exclude wins. Globs are shell globs (`*`, `?`, `[...]`, `{a,b}`) matched
 * by picomatch against the whole name (picomatch, unlike minimatch, reads no environment
 * variable at import, which the daemon's narrow `--allow-env` would refuse).
 *
 * @module
 */
// @ts-types="@types/picomatch"
import picomatch from "picomatch";

/** A `KEY[=VALUE]` label condition. */
export interface LabelMatch {
  /** Label key. */
  readonly key: string;
  /** Required value; absent: the label only has to exist. */
  readonly value?: string;
}

/** The filter flags, as parsed. */
export interface FilterOptions {
  /** `--include` globs. */
  readonly include: readonly string[];
  /** `--exclude` globs. */
  readonly exclude: readonly string[];
  /** `--include-label` conditions. */
  readonly includeLabels: readonly LabelMatch[];
  /** `--exclude-label` conditions. */
  readonly excludeLabels: readonly LabelMatch[];
}

/**
 * Parses a `--include-label`/`--exclude-label` value.
 * @param value `KEY` or `KEY=VALUE` (the value may be empty or contain `=`).
 * @throws {RangeError} when the key is empty.
 */
export function parseLabelMatch(value: string): LabelMatch {
  const eq = value.indexOf("=");
  const key = eq < 0 ? value : value.slice(0, eq);
  if (key.trim() === "") throw new RangeError("Allowed: KEY or KEY=VALUE with a non-empty KEY.");
  return eq < 0 ? { key } : { key, value: value.slice(eq + 1) };
}

/**
 * Checks a `--include`/`--exclude` glob.
 * @returns the glob.
 * @throws {RangeError} when it is empty or picomatch cannot compile it.
 */
export function validateGlob(glob: string): string {
  if (glob === "") throw new RangeError("Allowed: a non-empty name glob such as 'web-*'.");
  compile([glob]);
  return glob;
}

function compile(globs: readonly string[]): RegExp[] {
  return globs.map((g) => {
    try {
      return picomatch.makeRe(g, { dot: true, nonegate: true, windows: false });
    } catch (e) {
      throw new RangeError(`Cannot compile glob '${g}': ${(e as Error).message}`);
    }
  });
}

function labelMatches(
  labels: Readonly<Record<string, string>>,
  m: LabelMatch,
): boolean {
  const v = labels[m.key];
  return v !== undefined && (m.value === undefined || v === m.value);
}

/** The compiled filters. Evaluated once per container and name, never per sample. */
export class ContainerFilter {
  readonly #include: RegExp[];
  readonly #exclude: RegExp[];
  readonly #includeLabels: readonly LabelMatch[];
  readonly #excludeLabels: readonly LabelMatch[];

  /**
   * Compiles the filters.
   * @throws {RangeError} for a glob picomatch cannot compile.
   */
  constructor(options: FilterOptions) {
    this.#include = compile(options.include);
    this.#exclude = compile(options.exclude);
    this.#includeLabels = options.includeLabels;
    this.#excludeLabels = options.excludeLabels;
  }

  /** Whether any filter is set (without filters every container passes). */
  get active(): boolean {
    return this.#include.length + this.#exclude.length + this.#includeLabels.length +
        this.#excludeLabels.length > 0;
  }

  /**
   * Whether a container passes.
   * @param name the container's name, without `/`.
   * @param labels its labels.
   */
  passes(name: string, labels: Readonly<Record<string, string>>): boolean {
    if (this.#exclude.some((re) => re.test(name))) return false;
    if (this.#excludeLabels.some((m) => labelMatches(labels, m))) return false;
    if (this.#include.length > 0 && !this.#include.some((re) => re.test(name))) return false;
    if (
      this.#includeLabels.length > 0 && !this.#includeLabels.some((m) => labelMatches(labels, m))
    ) return false;
    return true;
  }
}
