/**
 * A stand-in for a server that hangs: it accepts TCP connections on a loopback port, reads what
 * is sent and never answers (a real QuestDB, InfluxDB or VictoriaMetrics cannot be made to do
 * that). To an ILP-over-HTTP client it is a server that never sends its answer, so a request
 * waits for its timeout; what it read is kept (a server that committed the rows but whose answer
 * was lost looks the same to the client).
 */

/** A running silent server. */
export interface SilentServer {
  /** Its loopback port. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Everything received so far, as text. */
  received(): string;
  /** Stops listening and closes the connections. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 on a free port.
 * @param read whether to read what is sent; false leaves it in the socket buffers, so that a
 *   client's writes block once they fill (a TCP server that stopped reading).
 */
export function silentServer(read = true): SilentServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  let received = "";
  const drain = async (conn: Deno.Conn) => {
    const buf = new Uint8Array(65536);
    const text = new TextDecoder();
    try {
      for (let n; (n = await conn.read(buf)) !== null;) received += text.decode(buf.subarray(0, n));
    } catch { /* closed */ }
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      if (read) void drain(conn);
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get connections() {
      return conns.length;
    },
    received: () => received,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the client */ }
      }
      await accepting;
    },
  };
}
