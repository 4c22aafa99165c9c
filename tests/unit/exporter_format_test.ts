/**
 * The exposition formats (src/exporter/exposition.ts): literal outputs of the text format
 * 0.0.4 and OpenMetrics 1.0.0, escaping, and the choice of format from real `Accept` headers
 * (Prometheus 2.42's scrape header, as Debian's prometheus sends it; curl's; none).
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  escapeLabelValue,
  Exposition,
  formatValue,
  labelPairs,
  negotiate,
  sanitizeLabelName,
} from "../../src/exporter/exposition.ts";

/** Prometheus 2.42 (scrape/scrape.go `scrapeAcceptHeader`). */
const PROMETHEUS_ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-" +
  "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

Deno.test("the format follows the Accept header's preference", () => {
  assert.equal(negotiate(PROMETHEUS_ACCEPT), "openmetrics");
  assert.equal(negotiate("application/openmetrics-text"), "openmetrics");
  assert.equal(negotiate("text/plain;version=0.0.4;q=1,*/*;q=0.1"), "text"); // vmagent, Alloy
  assert.equal(negotiate("application/openmetrics-text;q=0.2,text/plain;q=0.5"), "text");
  assert.equal(negotiate("*/*"), "text"); // curl
  assert.equal(negotiate(null), "text");
  assert.equal(negotiate("application/json"), "text");
  // A version we do not write is not chosen for its name alone.
  assert.equal(negotiate("application/openmetrics-text;version=0.0.1"), "text");
});

Deno.test("text format 0.0.4: help, type, samples without timestamps", () => {
  const out = new Exposition("text");
  out.family({ name: "container_cpu_usage_seconds_total", type: "counter", help: "a\\b\nc" });
  out.sample("container_cpu_usage_seconds_total", 'name="web",cpu="total"', 1.5);
  out.family({ name: "container_memory_failcnt", type: "counter", help: 'Say "hi"' });
  out.sample("container_memory_failcnt", "", 0);
  assert.equal(
    out.text(),
    "# HELP container_cpu_usage_seconds_total a\\\\b\\nc\n" +
      "# TYPE container_cpu_usage_seconds_total counter\n" +
      'container_cpu_usage_seconds_total{name="web",cpu="total"} 1.5\n' +
      '# HELP container_memory_failcnt Say "hi"\n' +
      "# TYPE container_memory_failcnt counter\n" +
      "container_memory_failcnt 0\n",
  );
});

Deno.test("OpenMetrics: counter families without _total, failcnt as unknown, # EOF", () => {
  const out = new Exposition("openmetrics");
  out.family({ name: "container_cpu_usage_seconds_total", type: "counter", help: "h" });
  out.sample("container_cpu_usage_seconds_total", 'name="web"', 2);
  out.family({ name: "container_memory_failcnt", type: "counter", help: 'Say "hi"' });
  out.sample("container_memory_failcnt", 'name="web"', 3);
  out.family({ name: "container_threads", type: "gauge", help: "g" });
  out.sample("container_threads", 'name="web"', 4);
  assert.equal(
    out.text(),
    "# HELP container_cpu_usage_seconds h\n" +
      "# TYPE container_cpu_usage_seconds counter\n" +
      'container_cpu_usage_seconds_total{name="web"} 2\n' +
      '# HELP container_memory_failcnt Say \\"hi\\"\n' +
      "# TYPE container_memory_failcnt unknown\n" +
      'container_memory_failcnt{name="web"} 3\n' +
      "# HELP container_threads g\n" +
      "# TYPE container_threads gauge\n" +
      'container_threads{name="web"} 4\n' +
      "# EOF\n",
  );
});

Deno.test("label values are escaped; empty values and odd label names are handled", () => {
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
  assert.equal(escapeLabelValue("plain/value:1"), "plain/value:1");
  assert.equal(labelPairs([["a", "x"], ["b", ""], ["c", 'q"']]), 'a="x",c="q\\""');
  assert.equal(sanitizeLabelName("com.docker.compose.project"), "com_docker_compose_project");
  assert.equal(sanitizeLabelName("a-b/ü"), "a_b__");
  assert.deepEqual(
    [0, 12, -3, 0.25, 1e21, NaN, Infinity, -Infinity].map(formatValue),
    ["0", "12", "-3", "0.25", "1e+21", "NaN", "+Inf", "-Inf"],
  );
});

/** Reads a label value back as the text format's grammar says (Prometheus textparse). */
function unescape(text: string): string {
  return text.replaceAll(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

Deno.test("any label value makes one line that reads back to the value", () => {
  fc.assert(
    fc.property(fc.string({ unit: "binary" }), fc.double(), (value, n) => {
      const out = new Exposition("text");
      out.sample("m", labelPairs([["l", value], ["z", "1"]]), n);
      const text = out.text();
      assert.equal(text.split("\n").length, 2, "one line and the final newline");
      if (value === "") return assert.equal(text, `m{z="1"} ${formatValue(n)}\n`);
      const m = /^m\{l="((?:[^"\\\n]|\\[\\"n])*)",z="1"\} (\S+)\n$/.exec(text);
      assert.ok(m, text);
      assert.equal(unescape(m[1]!), value);
      assert.ok(Object.is(Number(m[2]!.replace("Inf", "Infinity")), n) || n === 0, m[2]); // -0 is 0
    }),
  );
});
