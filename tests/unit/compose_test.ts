/**
 * The compose quick start, validated without starting it (no image registry here): the compose
 * file with `docker-compose config` (Debian's docker-compose 1.29, or `docker compose`), the
 * Grafana provisioning files against the QuestDB plugin's documented keys, and the paths they
 * share with the compose file.
 */
import assert from "node:assert/strict";
import { parse } from "yaml";
import { QUESTDB_PLUGIN } from "../../grafana/dashboard.ts";
import { parseQuestdbTarget } from "../../src/ilp/config.ts";
import { findOnPath } from "../../src/engine/cli.ts";

const ROOT = new URL("../../", import.meta.url);

/** The parts of a compose file the tests read. */
interface ComposeFile {
  services: Record<string, {
    image?: string;
    build?: unknown;
    environment: Record<string, string>;
    entrypoint: string[];
    volumes: string[];
  }>;
}

/** A data source provisioning file. */
interface DatasourceFile {
  apiVersion: number;
  datasources: {
    type: string;
    jsonData: Record<string, string | number>;
    secureJsonData: Record<string, string>;
  }[];
}

/** A dashboard provider provisioning file. */
interface ProviderFile {
  apiVersion: number;
  providers: { type: string; options: { path: string } }[];
}

/** Parses a YAML file of the repository as `T` (the assertions check what is used). */
async function read<T>(path: string): Promise<T> {
  return parse(await Deno.readTextFile(new URL(path, ROOT))) as T;
}

/**
 * The data source's documented settings: the plugin README's provisioning example and the
 * keys pkg/plugin/settings.go reads (`jsonData`), its `DecryptedSecureJSONData` keys, and
 * what `isValid` requires (questdb/grafana-questdb-datasource).
 */
const JSON_DATA_KEYS = new Set([
  "server",
  "port",
  "username",
  "tlsMode",
  "timeout",
  "queryTimeout",
  "maxOpenConnections",
  "maxIdleConnections",
  "maxConnectionLifetime",
  "timeInterval",
  "enableSecureSocksProxy",
  "tlsConfigurationMethod",
  "tlsClientCertFile",
  "tlsClientKeyFile",
]);
const SECURE_KEYS = new Set(["password", "tlsCACert", "tlsClientCert", "tlsClientKey"]);
const TLS_MODES = new Set(["disable", "require", "verify-ca", "verify-full"]);
/** Grafana's data source provisioning keys (docs "Provision Grafana: Data sources"). */
const DATASOURCE_KEYS = new Set([
  "name",
  "type",
  "uid",
  "access",
  "orgId",
  "url",
  "user",
  "database",
  "basicAuth",
  "basicAuthUser",
  "withCredentials",
  "isDefault",
  "jsonData",
  "secureJsonData",
  "version",
  "editable",
]);

/** `docker-compose` (v1), else the `docker compose` plugin; null when neither runs. */
function composeCommand(): string[] | null {
  if (findOnPath("docker-compose")) return ["docker-compose"];
  if (!findOnPath("docker")) return null;
  const probe = new Deno.Command("docker", { args: ["compose", "version"], stdout: "null" })
    .outputSync();
  return probe.success ? ["docker", "compose"] : null;
}

const compose = composeCommand();
const composeMissing = compose === null && Deno.env.get("CI") !== "true";
if (composeMissing) console.log("SKIPPED compose config: no docker-compose or docker compose");

Deno.test({
  name: "compose.yaml: `docker-compose config` accepts it; the three services as documented",
  ignore: composeMissing,
  async fn() {
    assert.ok(compose, "CI=true but no docker-compose (.ci/run installs it)");
    const out = await new Deno.Command(compose[0]!, {
      args: [...compose.slice(1), "--file", new URL("compose.yaml", ROOT).pathname, "config"],
      env: { NODE: "" },
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.ok(out.success, stderr);
    const config = parse(new TextDecoder().decode(out.stdout)) as ComposeFile;
    assert.deepEqual(Object.keys(config.services).sort(), [
      "container-statsd",
      "grafana",
      "questdb",
    ]);
    const { grafana, questdb, "container-statsd": statsd } = config.services;
    assert.ok(grafana && questdb && statsd);
    assert.match(grafana.environment.GF_INSTALL_PLUGINS ?? "", new RegExp(`^${QUESTDB_PLUGIN}\\b`));
    assert.match(String(questdb.image), /^questdb\/questdb:9\.3\.4$/, "the version tested here");
    assert.ok(statsd.build, "built from our Dockerfile");
    const target = parseQuestdbTarget(statsd.environment.QDB_CLIENT_CONF ?? "");
    assert.equal(target.host, "questdb");
    assert.equal(target.port, 9000);
    const entry = statsd.entrypoint.join(" ");
    for (
      const flag of [
        "--node",
        "--host-root /host",
        "--source cgroup",
        "--disks /",
        "--watchdog disabled",
      ]
    ) {
      assert.ok(entry.includes(flag), flag);
    }
    assert.ok(statsd.volumes.some((v) => v.startsWith("/:/host:ro")), "host root");
  },
});

Deno.test("provisioning: the QuestDB data source uses only the plugin's documented keys", async () => {
  const file = await read<DatasourceFile>("grafana/provisioning/datasources/questdb.yaml");
  assert.equal(file.apiVersion, 1);
  assert.equal(file.datasources.length, 1);
  const ds = file.datasources[0]!;
  for (const key of Object.keys(ds)) assert.ok(DATASOURCE_KEYS.has(key), `datasource key ${key}`);
  assert.equal(ds.type, QUESTDB_PLUGIN);
  for (const key of Object.keys(ds.jsonData)) assert.ok(JSON_DATA_KEYS.has(key), `jsonData ${key}`);
  for (const key of Object.keys(ds.secureJsonData)) assert.ok(SECURE_KEYS.has(key), key);
  // settings.go isValid: server, port > 0, username and password are required.
  assert.equal(typeof ds.jsonData.server, "string");
  assert.ok(Number.isInteger(ds.jsonData.port) && Number(ds.jsonData.port) > 0);
  assert.ok(ds.jsonData.username && ds.secureJsonData.password);
  assert.ok(TLS_MODES.has(String(ds.jsonData.tlsMode)), String(ds.jsonData.tlsMode));
  // It points at the compose file's QuestDB, on the PostgreSQL wire.
  const stack = await read<ComposeFile>("compose.yaml");
  const server = String(ds.jsonData.server);
  assert.ok(server in stack.services, `${server} is a compose service`);
  assert.equal(ds.jsonData.port, 8812);
});

Deno.test("provisioning: the dashboard provider reads the directory compose mounts", async () => {
  const file = await read<ProviderFile>("grafana/provisioning/dashboards/container-statsd.yaml");
  assert.equal(file.apiVersion, 1);
  const provider = file.providers[0]!;
  assert.equal(provider.type, "file");
  const stack = await read<ComposeFile>("compose.yaml");
  const grafana = stack.services.grafana!;
  const mounts = grafana.volumes;
  const mount = mounts.find((m) => m.split(":")[1] === provider.options.path);
  assert.ok(mount, `${provider.options.path} is mounted`);
  const dir = new URL(mount.split(":")[0]!.replace(/^\.\//, "") + "/", ROOT);
  await Deno.stat(new URL("container-statsd.json", dir));
  assert.ok(mounts.some((m) => m.startsWith("./grafana/provisioning:/etc/grafana/provisioning")));
  const home = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
  assert.equal(home, `${provider.options.path}/container-statsd.json`);
});
