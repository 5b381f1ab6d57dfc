import { createServer, type Server } from "node:http";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { backendEnv, hasInfra, infra } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { freePort } from "./fixtures/processes.js";
import { startTcpProxy } from "./fixtures/tcp-proxy.js";
import { startFakeSlackApi, type FakeSlackApi } from "./slack/fake-slack-api.js";

/** A port nothing listens on (until the test makes something listen there). */
const closedPort = freePort;

function listen(server: Server | net.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
}

function close(server: Server | net.Server): Promise<void> {
  if ("closeAllConnections" in server) server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * A sidecar's `/health` alone, in the state the test sets: its engine `starting` (503 degraded, as
 * the real sidecar answers while it waits for OpenCode), `running` (200 healthy), or `hang`.
 */
function stubSidecar(): { server: Server; state: "starting" | "running" | "hang" } {
  const stub = {
    state: "starting" as "starting" | "running" | "hang",
    server: createServer((req, res) => {
      if (req.url !== "/health") return void res.writeHead(404).end();
      if (stub.state === "hang") return;
      const up = stub.state === "running";
      res.writeHead(up ? 200 : 503, { "content-type": "application/json" }).end(
        JSON.stringify({
          status: up ? "healthy" : "degraded",
          opencode: { enabled: true, state: stub.state, version: "stub", model: "stub/model", restarts: 0 },
          ...(up ? {} : { problems: [`the OpenCode engine is ${stub.state}`] }),
        }),
      );
    }),
  };
  return stub;
}

async function json(res: Response): Promise<any> {
  return res.json();
}

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe("readiness: /livez, /readyz, /health", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecarPort: number;
  let nubabel: TestNubabel;
  const stub = stubSidecar();

  beforeAll(async () => {
    backend = await backendEnv("embedded");
    sidecarPort = await closedPort();
    nubabel = await startTestNubabel({
      ...secrets,
      ...backend.env,
      SIDECAR_URL: `http://127.0.0.1:${sidecarPort}`,
      SIDECAR_HEALTH_TIMEOUT_MS: "500",
    });
  });
  afterAll(async () => {
    await nubabel?.close();
    if (stub.server.listening) await close(stub.server);
    await backend?.cleanup();
  });

  it("is alive but not ready while no sidecar listens, and names the sidecar", async () => {
    const live = await nubabel.api("/livez");
    expect(live.status).toBe(200);
    expect(await json(live)).toEqual({ status: "alive" });

    const ready = await nubabel.api("/readyz");
    expect(ready.status).toBe(503);
    const body = await json(ready);
    expect(body).toMatchObject({
      status: "not_ready",
      missing: ["sidecar"],
      database: { ok: true, kind: "pglite" },
      redis: { ok: true, mode: "in-process" },
      sidecar: { ok: false, url: `http://127.0.0.1:${sidecarPort}`, error: expect.stringContaining("ECONNREFUSED") },
    });

    const health = await nubabel.api("/health");
    expect(health.status).toBe(503);
    expect(await json(health)).toMatchObject({ status: "degraded", sidecar: { ok: false } });
  });

  it("stays not ready while the sidecar's engine is starting, and is ready once it runs", async () => {
    stub.state = "starting";
    await listen(stub.server, sidecarPort);

    const starting = await nubabel.api("/readyz");
    expect(starting.status).toBe(503);
    expect(await json(starting)).toMatchObject({
      status: "not_ready",
      missing: ["sidecar"],
      sidecar: { ok: false, status: "degraded", engine: "starting", error: "the OpenCode engine is starting" },
    });
    const health = await nubabel.api("/health");
    expect(health.status).toBe(503);
    expect(await json(health)).toMatchObject({ status: "degraded", sidecar: { ok: false, engine: "starting" } });
    expect((await nubabel.api("/livez")).status).toBe(200);

    stub.state = "running";
    const ready = await nubabel.api("/readyz");
    expect(ready.status).toBe(200);
    const body = await json(ready);
    expect(body).toMatchObject({ status: "ready", database: { ok: true }, redis: { ok: true }, sidecar: { ok: true, status: "healthy", engine: "running" } });
    expect(body.missing).toBeUndefined();
    const healthy = await nubabel.api("/health");
    expect(healthy.status).toBe(200);
    expect(await json(healthy)).toMatchObject({ status: "healthy", database: { ok: true }, redis: { ok: true }, sidecar: { ok: true } });
  });

  it("answers within the check's timeout when the sidecar hangs", async () => {
    stub.state = "hang";
    if (!stub.server.listening) await listen(stub.server, sidecarPort);
    const started = Date.now();
    const res = await nubabel.api("/readyz");
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(res.status).toBe(503);
    expect(await json(res)).toMatchObject({ missing: ["sidecar"], sidecar: { ok: false, error: expect.stringMatching(/timeout|within/) } });
    expect((await nubabel.api("/livez")).status).toBe(200);
  });
});

describe("readiness with the contract's fake sidecar", () => {
  const secrets = testSecrets();
  let sidecar: FakeSidecar;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  const running: TestNubabel[] = [];

  beforeAll(async () => {
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    // PostgreSQL when the machine has it: it starts in a blink where a new PGlite database takes seconds.
    backend = await backendEnv("shared");
  });
  afterEach(async () => {
    for (const n of running.splice(0)) await n.close();
  });
  afterAll(async () => {
    await sidecar?.close();
    await backend?.cleanup();
  });

  it("is ready with a healthy sidecar, and not ready naming Redis when REDIS_URL points at a closed port", async () => {
    const plain = await startTestNubabel({ ...secrets, ...backend.env, SIDECAR_URL: sidecar.url });
    running.push(plain);
    expect((await plain.api("/readyz")).status).toBe(200);
    await plain.close();
    running.pop();

    const redisPort = await closedPort();
    const nubabel = await startTestNubabel({ ...secrets, ...backend.env, SIDECAR_URL: sidecar.url, REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    running.push(nubabel);
    expect((await nubabel.api("/livez")).status).toBe(200);
    const res = await nubabel.api("/readyz");
    expect(res.status).toBe(503);
    expect(await json(res)).toMatchObject({ status: "not_ready", missing: ["redis"], redis: { ok: false, mode: "redis" }, sidecar: { ok: true } });
    expect((await nubabel.api("/health")).status).toBe(503);
  });

  it.runIf(hasInfra)("goes not ready when Redis goes away", async () => {
    const redis = new URL(infra.redisUrl!);
    const proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) });
    const nubabel = await startTestNubabel({ ...secrets, ...backend.env, SIDECAR_URL: sidecar.url, REDIS_URL: proxy.url, REDIS_KEY_PREFIX: `readiness_${Date.now()}:` });
    running.push(nubabel);
    expect((await nubabel.api("/readyz")).status).toBe(200);
    await proxy.stop();
    const res = await nubabel.api("/readyz");
    expect(res.status).toBe(503);
    expect(await json(res)).toMatchObject({ missing: ["redis"], redis: { ok: false } });
  });
});

describe("Slack outage at start", () => {
  const secrets = testSecrets();
  let sidecar: FakeSidecar;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  const cleanups: Array<() => Promise<void>> = [];
  const slackEnv = (port: number) => ({ SLACK_BOT_TOKEN: "xoxb-test", SLACK_SIGNING_SECRET: "signing", SLACK_API_URL: `http://127.0.0.1:${port}/api/` });

  beforeAll(async () => {
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    // PostgreSQL when the machine has it: it starts in a blink where a new PGlite database takes seconds.
    backend = await backendEnv("shared");
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    await sidecar?.close();
    await backend?.cleanup();
  });

  it("starts and serves while Slack is unreachable; the bot becomes ready once Slack is back", async () => {
    const slackPort = await closedPort();
    // Before, the start waited for Slack (whose client retries for about 80 s) and then failed.
    const nubabel = await startTestNubabel({ ...secrets, ...backend.env, SIDECAR_URL: sidecar.url, ...slackEnv(slackPort) });
    cleanups.push(() => nubabel.close());

    expect((await nubabel.api("/livez")).status).toBe(200);
    // Slack is reported, never a gate.
    const down = await until("the failed Slack start to show", async () => {
      const body = await json(await nubabel.api("/readyz"));
      return body.slack?.error ? body : undefined;
    });
    expect(down).toMatchObject({ status: "ready", slack: { ok: false, mode: "http", error: expect.any(String) } });
    const health = await nubabel.api("/health");
    expect(health.status).toBe(200);
    expect(await json(health)).toMatchObject({ status: "healthy", slack: { ok: false } });

    // Slack comes up on the port the bot was given: a forwarder there to the fake Web API.
    const slack: FakeSlackApi = await startFakeSlackApi();
    cleanups.push(() => slack.close());
    const forward = net.createServer((client) => {
      const upstream = net.connect(Number(new URL(slack.url).port), "127.0.0.1");
      for (const s of [client, upstream]) s.on("error", () => s.destroy());
      client.pipe(upstream).pipe(client);
    });
    await listen(forward, slackPort);
    cleanups.push(() => close(forward));

    const up = await until(
      "the Slack bot to become ready",
      async () => {
        const body = await json(await nubabel.api("/health"));
        return body.slack?.ok ? body : undefined;
      },
      10_000,
    );
    expect(up.slack).toEqual({ ok: true, mode: "http", botUserId: "UBOT000001" });
    expect(slack.callsOf("auth.test").length).toBeGreaterThan(0);
  });

  it("stops retrying Slack once Nubabel stops", async () => {
    // Slack's port accepts and hangs up at once: every start attempt is one connection here.
    let attempts = 0;
    const slackPort = await closedPort();
    const refusing = net.createServer((socket) => {
      attempts++;
      socket.destroy();
    });
    await listen(refusing, slackPort);
    cleanups.push(() => close(refusing));

    const nubabel = await startTestNubabel({ ...secrets, ...backend.env, SIDECAR_URL: sidecar.url, ...slackEnv(slackPort) });
    await until("two start attempts", async () => (attempts >= 2 ? true : undefined), 5_000);
    await nubabel.close();
    const after = attempts;
    // Without the stop the next attempt would come 2 s after the second.
    await sleep(3_000);
    expect(attempts).toBe(after);
  });
});
