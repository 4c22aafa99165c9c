/**
 * Test harness for the real Docker engine: a busybox image built from Debian's static busybox
 * (no image registry is reachable), and containers named with a per-run prefix.
 */

/** Runs a command and returns its trimmed stdout. @throws {Error} with stderr on failure. */
export async function sh(cmd: string, args: string[], stdin?: Uint8Array): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(stdin);
    await w.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout).trim();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return text;
}

/** Whether a Docker engine answers. */
export async function dockerAvailable(): Promise<boolean> {
  try {
    await sh("docker", ["version", "--format", "{{.Server.Version}}"]);
    return true;
  } catch {
    return false;
  }
}

export const BUSYBOX_IMAGE = "busybox:local";

/**
 * Makes `busybox:local` from /bin/busybox (Debian busybox-static) with `docker import`, unless
 * it exists.
 */
export async function ensureBusyboxImage(): Promise<void> {
  try {
    await sh("docker", ["image", "inspect", BUSYBOX_IMAGE]);
    return;
  } catch { /* build it */ }
  const dir = await Deno.makeTempDir({ prefix: "statsd-bb-" });
  try {
    await Deno.mkdir(`${dir}/bin`);
    await Deno.copyFile("/bin/busybox", `${dir}/bin/busybox`);
    await Deno.chmod(`${dir}/bin/busybox`, 0o755);
    for (const a of ["sh", "sleep", "yes", "dd", "head", "timeout", "cat"]) {
      await Deno.symlink("busybox", `${dir}/bin/${a}`);
    }
    const tar = await new Deno.Command("tar", { args: ["-C", dir, "-c", "."], stdout: "piped" })
      .output();
    await sh("docker", ["import", "-", BUSYBOX_IMAGE], tar.stdout);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Starts a detached busybox container; returns its full ID. */
export function runContainer(name: string, extra: string[], command: string): Promise<string> {
  return sh("docker", ["run", "-d", "--name", name, ...extra, BUSYBOX_IMAGE, "sh", "-c", command]);
}

/** Force-removes every container whose name starts with `prefix`. */
export async function removeContainers(prefix: string): Promise<void> {
  const ids = await sh("docker", ["ps", "-aq", "--filter", `name=^${prefix}`]).catch(() => "");
  if (ids) await sh("docker", ["rm", "-f", ...ids.split("\n")]).catch(() => "");
}

/**
 * Makes a read-only recursive bind of `/` in a temporary directory (root only), the way the
 * systemd unit (BindReadOnlyPaths) and the Docker image (-v /:/host:ro) give the daemon the
 * host's /proc and /sys under --host-root.
 * @returns the directory.
 */
export async function mountHostRoot(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "statsd-hostroot-" });
  await sh("mount", ["--rbind", "/", dir]);
  await sh("mount", ["--make-rslave", dir]);
  await sh("mount", ["-o", "remount,bind,ro", dir]);
  return dir;
}

/**
 * A host root with only what the cgroup source and the `/` disk read: `/` itself, `/proc`, `/sys`
 * and the cgroup hierarchies under `/sys/fs/cgroup` (binds of the host's, about 15 mounts). A
 * recursive bind of `/` copies the whole mount table, every other test's binds included, which
 * on a shared machine grows it by thousands of mounts per test and makes each mount and unmount
 * slow. Undo it with {@link unmountHostRoot}.
 * @returns the directory.
 */
export async function mountCgroupRoot(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "statsd-cgroot-" });
  await sh("mount", ["--bind", "/", dir]);
  for (const path of ["/proc", "/sys"]) await sh("mount", ["--bind", path, dir + path]);
  await sh("mount", ["--rbind", "/sys/fs/cgroup", `${dir}/sys/fs/cgroup`]);
  await sh("mount", ["-o", "remount,bind,ro", dir]);
  return dir;
}

/**
 * Undoes {@link mountHostRoot}: one lazy detach of the whole tree (MNT_DETACH takes the
 * submounts with it), where `umount -R` walks every submount, minutes of CPU when other rbinds
 * of / on the machine have multiplied them.
 */
export async function unmountHostRoot(dir: string): Promise<void> {
  await sh("umount", ["-l", dir]).catch(() => sh("umount", ["-R", "-l", dir]));
  await Deno.remove(dir).catch(() => {});
}

/** What the Engine API reports for a container, reduced as docker/cli does. */
export interface ApiFigures {
  memoryUse: number;
  blockRead: number;
  blockWrite: number;
}

/** `GET /containers/<id>/stats?stream=false` over the engine's socket, with curl. */
export async function engineStats(id: string): Promise<ApiFigures> {
  const json = JSON.parse(
    await sh("curl", [
      "-s",
      "--unix-socket",
      "/var/run/docker.sock",
      `http://localhost/containers/${id}/stats?stream=false`,
    ]),
  ) as {
    memory_stats: { usage: number; stats: Record<string, number> };
    blkio_stats: { io_service_bytes_recursive: { op: string; value: number }[] | null };
  };
  const m = json.memory_stats;
  const inactive = m.stats.total_inactive_file ?? m.stats.inactive_file ?? 0;
  const entries = json.blkio_stats.io_service_bytes_recursive ?? [];
  const sum = (op: string) =>
    entries.filter((e) => e.op.toLowerCase() === op).reduce((s, e) => s + e.value, 0);
  return {
    memoryUse: inactive < m.usage ? m.usage - inactive : m.usage,
    blockRead: sum("read"),
    blockWrite: sum("write"),
  };
}

/** The block device holding the engine's data root (`/dev/vda` here), for a throttle rule. */
export async function dataDisk(): Promise<string> {
  const root = await sh("docker", ["info", "-f", "{{.DockerRootDir}}"]);
  const source = (await sh("df", ["--output=source", root])).split("\n").at(-1)!.trim();
  if (!source.startsWith("/dev/")) throw new Error(`${root} is on ${source}, not a block device`);
  return source;
}
