import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createOpencodeClient, type OpencodeClient } from "@opencode-ai/sdk/v2";
import { ModelServer } from "@nubabel/testkit";
import { startSidecar, type Sidecar } from "../apps/opencode-sidecar/src/main.js";
import { backendEnv } from "../apps/nubabel/test/fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../apps/nubabel/test/fixtures/nubabel.js";
import { createOrganization } from "../apps/nubabel/test/fixtures/organizations.js";
import { freePort } from "../apps/opencode-sidecar/src/engine/free-port.js";

/** The OpenCode SDK pointed at the sidecar's engine, in the organization's own workspace. */
export interface EngineClient {
  client: OpencodeClient;
  directory: string;
  /** Resolves on the session's next `session.idle` (register before prompting). */
  idle(sessionId: string): Promise<void>;
}

/** Everything one bench section measures on: one model, one sidecar and engine, one Nubabel. */
export interface Stack {
  model: ModelServer;
  sidecar: Sidecar;
  nubabel: TestNubabel;
  /** `shared` with DATABASE_URL and REDIS_URL set, else `embedded` (PGlite, in-process). */
  storage: "shared" | "embedded";
  secret: string;
  organizationId: string;
  apiKey: string;
  engine: EngineClient;
  close(): Promise<void>;
}

/**
 * Starts the real parts as `npm start` wires them (the sidecar gets Redis too when it is set), on
 * an instant scripted model. Limits that would refuse a burst (per-organization admission, API and
 * callback rate limits) are raised out of the way: the bench measures speed, not refusals.
 */
export async function startStack(): Promise<Stack> {
  const secrets = testSecrets();
  const secret = secrets.SIDECAR_SHARED_SECRET;
  const model = await ModelServer.start({ defaultReply: { text: "ok", chunks: 1 } });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-sidecar-"));
  const backend = await backendEnv("shared");
  const nubabelPort = await freePort();
  const sidecar = await startSidecar({
    SIDECAR_PORT: "0",
    SIDECAR_SHARED_SECRET: secret,
    SIDECAR_DATA_DIR: dataDir,
    NUBABEL_CALLBACK_URL: `http://127.0.0.1:${nubabelPort}`,
    MODEL_BASE_URL: model.url,
    MODEL_NAME: "scripted",
    SHUTDOWN_GRACE_MS: "1000",
    LOG_LEVEL: "silent",
    // Under Nubabel's prefix, so the backend's cleanup flushes the sidecar's keys as well.
    ...(backend.env.REDIS_URL ? { REDIS_URL: backend.env.REDIS_URL, REDIS_PREFIX: `${backend.env.REDIS_KEY_PREFIX}sidecar:` } : {}),
  });
  const nubabel = await startTestNubabel({
    ...backend.env,
    ...secrets,
    NUBABEL_PORT: String(nubabelPort),
    SIDECAR_URL: sidecar.url,
    ORG_MAX_RUNNING: "1000",
    ORG_MAX_QUEUED: "1000",
    API_RATE_LIMIT_PER_KEY: "1000000",
    CALLBACK_RATE_LIMIT_PER_ORG: "1000000",
    CALLBACK_RATE_LIMIT_PER_SESSION: "1000000",
    SHUTDOWN_GRACE_MS: "1000",
  });
  const { organizationId, apiKey } = await createOrganization(nubabel, "Bench");
  const engine = await engineClient(sidecar, path.join(dataDir, "workspaces", organizationId));
  return {
    model,
    sidecar,
    nubabel,
    storage: backend.kind,
    secret,
    organizationId,
    apiKey,
    engine,
    close: async () => {
      engine.close();
      await nubabel.close();
      await sidecar.close();
      await backend.cleanup();
      await model.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
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

async function engineClient(sidecar: Sidecar, directory: string): Promise<EngineClient & { close(): void }> {
  const endpoint = sidecar.engine.endpoint()!;
  mkdirSync(directory, { recursive: true });
  const client = createOpencodeClient({
    baseUrl: endpoint.url,
    headers: { authorization: `Basic ${Buffer.from(`opencode:${endpoint.password}`).toString("base64")}` },
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
