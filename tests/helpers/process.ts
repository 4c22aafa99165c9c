/**
 * Ending a server the tests started.
 *
 * @module
 */

/**
 * Sends SIGTERM, then SIGKILL if the process has not exited after `graceMs`, and waits for it.
 * @param child the process.
 * @param graceMs time to exit after SIGTERM, ms.
 */
export async function terminate(child: Deno.ChildProcess, graceMs = 10_000): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }, graceMs);
  await child.status;
  clearTimeout(timer);
}
