/**
 * A stand-in `docker` for daemon runs without the engine: a shell script put first on the
 * daemon's PATH. `docker stats ...` runs the given command, `docker version` answers (the
 * source's engine probe), anything else fails.
 */

const OUT = new URL("../out/", import.meta.url).pathname;

/**
 * Writes bench/out/<name>/docker.
 * @param name its directory under bench/out/.
 * @param stats the shell command `docker stats` execs (e.g. a replayer, `sleep 86400`).
 * @returns the directory, to put first on PATH.
 */
export function standInDocker(name: string, stats: string): string {
  const dir = `${OUT}${name}/`;
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeTextFileSync(
    `${dir}docker`,
    `#!/bin/sh
# Stand-in for docker (bench/lib/stand_in_docker.ts).
case "$1" in
  stats) exec ${stats} ;;
  version) echo stand-in; exit 0 ;;
  *) echo "stand-in docker: $1 not supported" >&2; exit 1 ;;
esac
`,
  );
  Deno.chmodSync(`${dir}docker`, 0o755);
  return dir;
}

/** The environment that puts `dir` first on PATH. */
export function pathFirst(dir: string): Record<string, string> {
  return { PATH: `${dir}:${Deno.env.get("PATH") ?? ""}` };
}
