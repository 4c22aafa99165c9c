/**
 * The Prometheus text exposition format 0.0.4 and OpenMetrics 1.0.0, written directly: names,
 * escaping, values, and the choice between the two from the scraper's `Accept` header.
 *
 * Sources: Prometheus docs "Exposition formats" (text format 0.0.4); the OpenMetrics 1.0
 * specification (prometheus/OpenMetrics specification/OpenMetrics.md); client_golang
 * expfmt/openmetrics_create.go for how a counter family is named in OpenMetrics.
 *
 * @module
 */
// @ts-types="@types/negotiator"
import Negotiator from "negotiator";

/** The two formats served. */
export type Format = "text" | "openmetrics";

/** `Content-Type` of each format. */
export const CONTENT_TYPES: Readonly<Record<Format, string>> = {
  text: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

const OFFERED = ["text/plain;version=0.0.4", "application/openmetrics-text;version=1.0.0"];

/**
 * Picks the format for a scrape by the `Accept` header's media types and q-values (RFC 9110
 * 12.5.1): OpenMetrics 1.0.0 when the scraper prefers it (Prometheus 2.x asks for it first),
 * else the text format, which is also the answer to no header or an unknown type
 * (client_golang's promhttp falls back the same way).
 * @param accept the header's value, or null when absent.
 */
export function negotiate(accept: string | null): Format {
  if (accept === null) return "text";
  const type = new Negotiator({ headers: { accept } }).mediaType(OFFERED);
  return type === OFFERED[1] ? "openmetrics" : "text";
}

/** The metric types this exporter writes. */
export type MetricType = "counter" | "gauge";

/** One metric family: its sample name, help text and type. */
export interface FamilyDecl {
  /** Sample name, e.g. `container_cpu_usage_seconds_total`. */
  readonly name: string;
  /** One line of help, no `\` or newline. */
  readonly help: string;
  /** Counter or gauge. */
  readonly type: MetricType;
}

/**
 * A label name from any text: every character outside `[a-zA-Z0-9_]` becomes `_` (cAdvisor
 * metrics/prometheus.go `sanitizeLabelName`).
 */
export function sanitizeLabelName(name: string): string {
  return name.replaceAll(/[^a-zA-Z0-9_]/g, "_");
}

/** Escapes a label value: `\` `"` and newline (both formats). */
export function escapeLabelValue(value: string): string {
  return /[\\"\n]/.test(value)
    ? value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")
    : value;
}

/**
 * The inside of a label set, `a="x",b="y"`, in the order given; pairs with an empty value are
 * left out (Prometheus treats an empty label as no label).
 */
export function labelPairs(pairs: readonly (readonly [string, string])[]): string {
  return pairs.filter(([, v]) => v !== "").map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(",");
}

/** A sample value: integers as digits, `NaN`, `+Inf`, `-Inf`, other numbers as JS writes them. */
export function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  return Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
}

/**
 * Builds one exposition. Call {@link Exposition.family} before the samples of each family,
 * then {@link Exposition.sample}; {@link Exposition.text} ends it (`# EOF` in OpenMetrics).
 *
 * In OpenMetrics a counter family is named without `_total`, its samples keep it; a counter
 * whose cAdvisor name lacks `_total` (`container_memory_failcnt`) is typed `unknown` there, so
 * the sample name that queries use stays the same in both formats.
 */
export class Exposition {
  /** The format being written. */
  readonly format: Format;
  readonly #parts: string[] = [];

  /** Starts an empty exposition in `format`. */
  constructor(format: Format) {
    this.format = format;
  }

  /** Writes the `# HELP` and `# TYPE` lines of a family. */
  family(decl: FamilyDecl): void {
    let name = decl.name;
    let type: string = decl.type;
    let help = decl.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
    if (this.format === "openmetrics") {
      help = help.replaceAll('"', '\\"');
      if (type === "counter") {
        if (name.endsWith("_total")) name = name.slice(0, -6);
        else type = "unknown";
      }
    }
    this.#parts.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`);
  }

  /**
   * Writes one sample, without a timestamp (the exporter guidelines).
   * @param name sample name (the family's).
   * @param labels the inside of the label set from {@link labelPairs}, or "".
   * @param value the value.
   */
  sample(name: string, labels: string, value: number): void {
    this.#parts.push(
      labels === ""
        ? `${name} ${formatValue(value)}\n`
        : `${name}{${labels}} ${formatValue(value)}\n`,
    );
  }

  /** The whole exposition. */
  text(): string {
    return this.#parts.join("") + (this.format === "openmetrics" ? "# EOF\n" : "");
  }
}
