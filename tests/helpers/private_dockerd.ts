/**
 * A PRIVATE Docker engine for tests that kill one: its own dockerd (own socket, data root, exec
 * root and pidfile; vfs storage, no bridge, no iptables) on the shared containerd, in its own
 * containerd namespace. Killing it never touches the shared engine or its containers.
 */
import { findOnPath } from "../../src/engine/cli.ts";
import { sh } from "./docker.ts";

/** The shared engine's containerd (dockerd 20.10 starts it under its exec root). */
const CONTAINERD = "/var/run/docker/containerd/containerd.sock";

/** A running private engine. */
export interface PrivateDockerd {
  /** `unix://<socket>`, for DOCKER_HOST. */
  readonly dockerHost: string;
  /** PID of the running dockerd. */
  readonly pid: number;
  /** `docker <args>` against this engine. */
  docker(args: string[], stdin?: Uint8Array): Promise<string>;
  /** SIGKILL, and wait for it to exit. */
  kill9(): Promise<void>;
  /** Starts it again (same directories) and waits until it answers. */
  restart(): Promise<void>;
  /** Removes its containers, stops it and its directories. */
  dispose(): Promise<void>;
}

/** Why a private engine cannot run here, or null. */
export function privateDockerdMissing(): string | null {
  if (findOnPath("dockerd") === null) return "dockerd is not on PATH (apt-get install docker.io)";
  try {
    Deno.statSync(CONTAINERD);
  } catch {
    return `no shared containerd at ${CONTAINERD} for a private dockerd`;
  }
  return Deno.uid() === 0 ? null : "not root (dockerd needs it)";
}

/** Starts a private engine in a new temporary directory, with `busybox:local` imported. */
export async function startPrivateDockerd(): Promise<PrivateDockerd> {
  const dir = await Deno.makeTempDir({ prefix: "ct-dockerd-" });
  const ns = `ct${dir.slice(-8)}`;
  const socket = `${dir}/docker.sock`;
  const host = `unix://${socket}`;
  const args = [
    "-H",
    host,
    "--data-root",
    `${dir}/data`,
    "--exec-root",
    `${dir}/exec`,
    "--pidfile",
    `${dir}/docker.pid`,
    "--storage-driver=vfs",
    "--bridge=none",
    "--iptables=false",
    `--containerd=${CONTAINERD}`,
    `--containerd-namespace=${ns}`,
    `--containerd-plugins-namespace=${ns}-plugins`,
  ];
  let child: Deno.ChildProcess | null = null;
  const docker = (a: string[], stdin?: Uint8Array) => sh("docker", ["-H", host, ...a], stdin);
  const start = async () => {
    child = new Deno.Command("dockerd", { args, stdout: "null", stderr: "null" }).spawn();
    for (let i = 0; i < 120; i++) {
      if (await docker(["version"]).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error("the private dockerd did not answer within 60 s");
  };
  await start();
  const bb = await Deno.makeTempDir({ prefix: "ct-bb-" });
  await Deno.mkdir(`${bb}/bin`);
  await Deno.copyFile("/bin/busybox", `${bb}/bin/busybox`);
  await Deno.chmod(`${bb}/bin/busybox`, 0o755);
  for (const a of ["sh", "sleep"]) await Deno.symlink("busybox", `${bb}/bin/${a}`);
  const tar = await new Deno.Command("tar", { args: ["-C", bb, "-c", "."], stdout: "piped" })
    .output();
  await docker(["import", "-", "busybox:local"], tar.stdout);
  await Deno.remove(bb, { recursive: true });
  return {
    dockerHost: host,
    get pid() {
      return child!.pid;
    },
    docker,
    async kill9() {
      child!.kill("SIGKILL");
      await child!.status;
    },
    restart: start,
    async dispose() {
      const ids = await docker(["ps", "-aq"]).catch(() => "");
      if (ids) await docker(["rm", "-f", ...ids.split("\n")]).catch(() => "");
      child!.kill("SIGTERM");
      await child!.status;
      await sh("umount", ["-R", "-l", `${dir}/data`]).catch(() => "");
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
