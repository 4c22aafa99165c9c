/**
 * One way to put a thrown value in a log line or an error message.
 *
 * @module
 */

/**
 * One-line description of an unknown thrown value: its message followed by those of its
 * `cause` chain (Deno's fetch says only "fetch failed" and puts the reason, e.g.
 * `invalid peer certificate: UnknownIssuer`, in `cause`), newlines replaced. Never throws.
 * @param e anything thrown.
 * @returns e.g. `fetch failed: Connection refused (os error 111)`.
 */
export function describeError(e: unknown): string {
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur !== undefined && cur !== null; depth++) {
    const text = cur instanceof Error ? cur.message || cur.name : String(cur);
    if (text !== "" && !parts.includes(text)) parts.push(text);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ").replaceAll("\n", " ");
}
