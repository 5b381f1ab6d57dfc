import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createOpencodeClient, type OpencodeClient } from "@opencode-ai/sdk/v2";
import { ModelServer } from "@nubabel/testkit";
import { withOrganizations } from "../apps/nubabel/src/cli/organizations-client.js";
import { parseEnv } from "../apps/nubabel/src/config/env.js";
import { backendEnv } from "../apps/nubabel/test/fixtures/backends.js";
import { testSecrets } from "../apps/nubabel/test/fixtures/nubabel.js";
import { freePort } from "../apps/opencode-sidecar/src/engine/free-port.js";
import { CpuMeter } from "./cpu.js";
import { commandLine, environmentOf, findBelow, processTable } from "./procfs.js";
import { Service, waitHealthy } from "./services.js";

/** The OpenCode SDK pointed at the sidecar's engine, in a folder of its own (no sidecar run lands there). */
export interface EngineClient {
  client: OpencodeClient;
  directory: string;
  /** Resolves on the session's next `session.idle` (register before prompting). */
  idle(sessionId: string): Promise<void>;
}

/** An organization and its API key. */
export interface Organization {
  organizationId: string;
  apiKey: string;
}

/** Everything the bench measures on: one model, the sidecar and its engine, one Nubabel, one organization. */
export interface Stack {
  model: ModelServer;
  sidecar: Service;
  /** Replaced by `restartNubabel`; the CPU meter follows the first one only. */
  nubabel: Service;
  enginePid: number;
  /** `shared` with DATABASE_URL and REDIS_URL set, else `embedded` (PGlite, in-process bus). */
  storage: "shared" | "embedded";
  logLevel: string;
  secret: string;
  organizationId: string;
  apiKey: string;
  /** How long Nubabel's circuit to the sidecar stays open once failures opened it. */
  breakerResetMs: number;
  engine: EngineClient;
  cpu: CpuMeter;
  /** New organizations, each with its API key, made as the CLI makes them (on PostgreSQL, else through Nubabel). */
  organizations(names: string[]): Promise<Organization[]>;
  /** Another sidecar like the first (a port, folder and Redis prefix of its own, `env` added), stopped by `tearDown`. */
  addSidecar(name: string, env?: Record<string, string>): Promise<Service>;
  /** Stops Nubabel and starts it again, on the same port and storage, with `env` added (SIDECAR_URLS). */
  restartNubabel(env: Record<string, string>): Promise<Service>;
}

/** What `tearDown` undoes, last first; filled as the stack comes up, so a failed start is undone too. */
const undo: Array<{ what: string; run: () => Promise<void> | void }> = [];
let tearing: Promise<void> | undefined;

/** Stops the services and removes what the stack made (database, Redis keys, folders). Idempotent. */
export function tearDown(): Promise<void> {
  return (tearing ??= (async () => {
    for (let step = undo.pop(); step; step = undo.pop()) {
      try {
        await step.run();
      } catch (err) {
        console.error(`bench: ${step.what}: ${(err as Error).message}`);
      }
    }
  })());
}

/**
 * Starts the parts as `npm start` wires them, Nubabel and the sidecar each in a process of its own
 * (so each one's CPU can be read), on an instant scripted model served by this process. The sidecar
 * gets Redis too when it is set. Limits that would refuse a burst (per-organization admission, API
 * and callback rate limits) are raised out of the way: the bench measures speed, not refusals.
 * Every turn is a new conversation, so the sidecar's per-session queue (SESSION_QUEUE_LIMIT) never
 * holds more than one and stays as it is.
 */
export async function startStack(options: { logLevel: string; maxConcurrency: number }): Promise<Stack> {
  const { logLevel } = options;
  const secrets = testSecrets();
  const secret = secrets.SIDECAR_SHARED_SECRET;
  const model = await ModelServer.start({ defaultReply: { text: "ok", chunks: 1 } });
  undo.push({ what: "stopping the model server", run: () => model.close() });
  const backend = await backendEnv("shared");
  undo.push({ what: "removing the database, Redis keys and Nubabel's folder", run: () => backend.cleanup() });
  const folders = mkdtempSync(path.join(os.tmpdir(), "bench-sidecar-"));
  undo.push({ what: "removing the sidecars' folders", run: () => rmSync(folders, { recursive: true, force: true }) });

  const nubabelPort = await freePort();
  const nubabelUrl = `http://127.0.0.1:${nubabelPort}`;
  const breakerResetMs = 10_000;
  const room = String(Math.max(1_000, 2 * options.maxConcurrency));
  const startSidecar = async (name: string, env: Record<string, string> = {}) => {
    const port = await freePort();
    const sidecar = new Service(
      name,
      "apps/opencode-sidecar/src/main.ts",
      {
        ...systemEnv(),
        SIDECAR_PORT: String(port),
        SIDECAR_SHARED_SECRET: secret,
        SIDECAR_DATA_DIR: path.join(folders, name),
        NUBABEL_CALLBACK_URL: nubabelUrl,
        MODEL_BASE_URL: model.url,
        MODEL_NAME: "scripted",
        SHUTDOWN_GRACE_MS: "1000",
        LOG_LEVEL: logLevel,
        // Under Nubabel's prefix, so the backend's cleanup flushes the sidecar's keys as well.
        ...(backend.env.REDIS_URL ? { REDIS_URL: backend.env.REDIS_URL, REDIS_PREFIX: `${backend.env.REDIS_KEY_PREFIX}${name}:` } : {}),
        ...env,
      },
      `http://127.0.0.1:${port}`,
    );
    undo.push({ what: `stopping ${name}`, run: () => sidecar.stop() });
    await waitHealthy(sidecar, "/health");
    return sidecar;
  };
  const sidecar = await startSidecar("sidecar");
  const nubabelEnv = {
    ...systemEnv(),
    ...backend.env,
    ...secrets,
    NUBABEL_PORT: String(nubabelPort),
    SIDECAR_URL: sidecar.url,
    ORG_MAX_RUNNING: room,
    ORG_MAX_QUEUED: room,
    API_RATE_LIMIT_PER_KEY: "1000000",
    CALLBACK_RATE_LIMIT_PER_ORG: "1000000",
    CALLBACK_RATE_LIMIT_PER_SESSION: "1000000",
    SIDECAR_BREAKER_RESET_MS: String(breakerResetMs),
    SHUTDOWN_GRACE_MS: "1000",
    LOG_LEVEL: logLevel,
  };
  const startNubabel = async (env: Record<string, string>) => {
    const nubabel = new Service("nubabel", "apps/nubabel/src/main.ts", { ...nubabelEnv, ...env }, nubabelUrl);
    undo.push({ what: "stopping Nubabel", run: () => nubabel.stop() });
    // Ready means its database, Redis and the sidecar's engine answer.
    await waitHealthy(nubabel, "/readyz");
    return nubabel;
  };
  const nubabel = await startNubabel({});
  const organizations = (names: string[]) =>
    withOrganizations(parseEnv(nubabelEnv), async (api) => {
      const made: Organization[] = [];
      for (const name of names) made.push(await api.create(name));
      return made;
    });

  const [{ organizationId, apiKey }] = (await organizations(["Bench"])) as [Organization];
  const enginePid = findBelow(processTable(), sidecar.pid, "opencode");
  if (enginePid === undefined) throw new Error(`no opencode process below the sidecar (pid ${sidecar.pid})`);
  const engine = await engineClient(enginePid, path.join(folders, "sidecar", "engine-alone"));
  undo.push({ what: "closing the engine's event stream", run: () => engine.close() });
  const stack: Stack = {
    model,
    sidecar,
    nubabel,
    enginePid,
    storage: backend.kind,
    logLevel,
    secret,
    organizationId,
    apiKey,
    breakerResetMs,
    engine,
    cpu: new CpuMeter({ sidecar: sidecar.pid, nubabel: nubabel.pid }, backend.env.DATABASE_URL ? new URL(backend.env.DATABASE_URL).pathname.slice(1) : undefined),
    organizations,
    addSidecar: startSidecar,
    restartNubabel: async (env) => {
      await stack.nubabel.stop();
      return (stack.nubabel = await startNubabel(env));
    },
  };
  return stack;
}

/**
 * Resolves once the model has had no request for `quietMs` (at most `maxMs`): the engine's
 * background calls after a burst (titles) should not land in the next measurement.
 */
export async function settle(model: ModelServer, quietMs = 500, maxMs = 10_000): Promise<void> {
  const count = () => model.requests.length + model.auxiliaryRequests.length;
  const until = performance.now() + maxMs;
  let seen = count();
  while (performance.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, quietMs));
    if (count() === seen) return;
    seen = count();
  }
}

/** What a service needs of this environment to run at all; nothing else leaks in (no DATABASE_URL of ours). */
function systemEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"]) {
    const value = process.env[key];
    if (value) out[key] = value;
  }
  return out;
}

/**
 * The engine's address and password are the sidecar's secret; the bench reads them where the
 * sidecar put them: the engine's command line (`--port=`) and environment (`OPENCODE_SERVER_PASSWORD`).
 */
async function engineClient(pid: number, directory: string): Promise<EngineClient & { close(): void }> {
  const port = commandLine(pid)
    .find((arg) => arg.startsWith("--port="))
    ?.slice("--port=".length);
  const password = environmentOf(pid, "OPENCODE_SERVER_PASSWORD");
  if (!port || !password) throw new Error(`cannot read the engine's port and password from /proc/${pid}`);
  mkdirSync(directory, { recursive: true });
  const client = createOpencodeClient({
    baseUrl: `http://127.0.0.1:${port}`,
    headers: { authorization: `Basic ${Buffer.from(`opencode:${password}`).toString("base64")}` },
  });
  const controller = new AbortController();
  const { stream } = await client.event.subscribe({ directory }, { signal: controller.signal });
  const waiting = new Map<string, () => void>();
  void (async () => {
    for await (const ev of stream) {
      const e = ev as { type: string; properties: { sessionID?: string } };
      if (e.type !== "session.idle" || !e.properties.sessionID) continue;
      waiting.get(e.properties.sessionID)?.();
      waiting.delete(e.properties.sessionID);
    }
  })().catch(() => undefined);
  return {
    client,
    directory,
    idle: (sessionId) => new Promise<void>((resolve) => waiting.set(sessionId, resolve)),
    close: () => controller.abort(),
  };
}
