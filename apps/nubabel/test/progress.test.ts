import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Capabilities, Webhooks, type DelegateRequest, type ProgressEvent } from "@nubabel/contracts";
import { backendEnv, hasInfra, infra } from "./fixtures/backends.js";
import { postSigned, startFakeSidecar, toNubabel, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { openSse } from "./fixtures/sse-client.js";

async function subscribers(channel: string): Promise<number> {
  const redis = new Redis(infra.redisUrl!);
  try {
    const [, count] = (await redis.pubsub("NUMSUB", channel)) as [string, number];
    return Number(count);
  } finally {
    redis.disconnect();
  }
}

const status = (message: string): ProgressEvent => ({ type: "status", data: { status: "busy", message }, timestamp: new Date().toISOString() });

describe.runIf(hasInfra)("live progress across two instances (PostgreSQL + Redis)", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let a: TestNubabel;
  let b: TestNubabel;
  let apiKey: string;
  let orgId: string;

  beforeAll(async () => {
    backend = await backendEnv("shared");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, progress: true });
    const env = { ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, PROGRESS_HEARTBEAT_MS: "100" };
    a = await startTestNubabel(env);
    b = await startTestNubabel(env);
    ({ apiKey, organizationId: orgId } = await createOrganization(a, "Acme"));
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await sidecar?.close();
    await backend?.cleanup();
  });

  /** A session delegated through B, so its callback URLs and token point at B. */
  const sessionOnB = async (sessionId: string) => {
    const res = await b.api("/api/delegate", { body: { prompt: "start", sessionId }, apiKey });
    expect(res.status).toBe(200);
    const sent = sidecar.received.findLast((r) => r.kind === "delegate" && (r.body as DelegateRequest).session_id === sessionId)!.body as DelegateRequest;
    expect(sent.callbacks!.progress.startsWith(b.url)).toBe(true);
    return { progressUrl: sent.callbacks!.progress, token: sent.callbackToken! };
  };
  const post = (target: { progressUrl: string; token: string }, event: ProgressEvent) =>
    postSigned(target.progressUrl, { progress: event }, target.token, secrets.SIDECAR_SHARED_SECRET);

  it("delivers progress posted to B to an SSE client on A, in order, with ids and heartbeats", async () => {
    const sessionId = `progress-${Date.now()}`;
    const sse = await openSse(`${a.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${apiKey}` });
    expect(sse.status).toBe(200);
    await sse.until((c) => c.events[0]?.type === "connected");

    // The fake sidecar posts status → message_updated to B during the run; B appends `completed`
    // when it applies the run's result.
    await sessionOnB(sessionId);
    await sse.until((c) => c.events.some((e) => e.type === "completed"));
    await sse.until((c) => c.comments.includes("heartbeat"));
    const channel = `${backend.env.REDIS_KEY_PREFIX}progress:${orgId}/${sessionId}`;
    expect(await subscribers(channel)).toBe(1);
    sse.close();
    // Closing the client unsubscribes A from the session's channel.
    await vi.waitFor(async () => expect(await subscribers(channel)).toBe(0));

    expect(sse.events.map((e) => e.type)).toEqual(["connected", "status", "message_updated", "completed"]);
    for (const e of sse.events) {
      expect(e.sseId).toBe(e.id);
      expect(e.sessionId).toBe(sessionId);
    }
    const ids = sse.events.slice(1).map((e) => e.id);
    expect([...ids].sort((x, y) => (x < y ? -1 : 1))).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(sidecar.callbackStatuses.slice(-3)).toEqual([200, 200, 200]);
  });

  it("replays exactly the missed events after a reconnect with Last-Event-ID", async () => {
    const sessionId = `replay-${Date.now()}`;
    const target = await sessionOnB(sessionId);
    const first = await openSse(`${a.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${apiKey}` });
    await first.until((c) => c.events.length === 1);
    for (const m of ["one", "two"]) expect((await post(target, status(m))).status).toBe(200);
    await first.until((c) => c.events.length === 3);
    first.close();
    const lastSeen = first.events.at(-1)!.sseId;

    for (const m of ["three", "four", "five"]) expect((await post(target, status(m))).status).toBe(200);

    // Reconnect on the other instance, as a load balancer might.
    const again = await openSse(`${b.url}/api/sidecar/sessions/${sessionId}/stream`, {
      authorization: `Bearer ${apiKey}`,
      "last-event-id": lastSeen,
    });
    await again.until((c) => c.events.length === 4);
    expect((await post(target, status("six"))).status).toBe(200);
    await again.until((c) => c.events.length === 5);
    again.close();

    const messages = (events: typeof again.events) =>
      events.map((e) => (e.type === "status" ? e.data.message : e.type));
    expect(messages(first.events)).toEqual(["connected", "one", "two"]);
    expect(messages(again.events)).toEqual(["connected", "three", "four", "five", "six"]);
    expect(again.events[0]!.id).toBe(lastSeen);
  });

  it("takes several events in one callback, in order, and refuses a body with both shapes, naming the field", async () => {
    const sessionId = `batch-${Date.now()}`;
    const target = await sessionOnB(sessionId);
    const stream = await openSse(`${a.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${apiKey}` });
    await stream.until((c) => c.events.length === 1);
    const batch = await postSigned(target.progressUrl, { events: ["b1", "b2", "b3"].map(status) }, target.token, secrets.SIDECAR_SHARED_SECRET);
    expect(batch.status).toBe(200);
    expect(((await batch.json()) as { ids: string[] }).ids).toHaveLength(3);
    expect((await post(target, status("after"))).status).toBe(200);
    await stream.until((c) => c.events.length === 5);
    stream.close();
    expect(stream.events.map((e) => (e.type === "status" ? e.data.message : e.type))).toEqual(["connected", "b1", "b2", "b3", "after"]);

    const both = await postSigned(target.progressUrl, { progress: status("x"), events: [status("y")] }, target.token, secrets.SIDECAR_SHARED_SECRET);
    expect(both.status).toBe(400);
    expect(((await both.json()) as { error: { details: { fields: string[] } } }).error.details.fields).toContain("progress");
    const empty = await postSigned(target.progressUrl, { events: [] }, target.token, secrets.SIDECAR_SHARED_SECRET);
    expect(empty.status).toBe(400);
  });

  it("refuses a callback replayed to the other instance", async () => {
    const sessionId = `replay-guard-${Date.now()}`;
    const target = await sessionOnB(sessionId);
    const body = { progress: status("once") };
    const headers = Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(target.progressUrl), JSON.stringify(body));
    expect((await postSigned(target.progressUrl, body, target.token, secrets.SIDECAR_SHARED_SECRET, headers)).status).toBe(200);
    const onA = target.progressUrl.replace(b.url, a.url);
    expect((await postSigned(onA, body, target.token, secrets.SIDECAR_SHARED_SECRET, headers)).status).toBe(401);
  });

  it("lets a browser stream with a short-lived token instead of the API key", async () => {
    const sessionId = `token-${Date.now()}`;
    const minted = (await (await a.api(`/api/sessions/${sessionId}/stream-token`, { method: "POST", apiKey })).json()) as { token: string; url: string };
    const sse = await openSse(`${b.url}${minted.url}&lastEventId=0`);
    expect(sse.status).toBe(200);
    await sse.until((c) => c.events.length === 1);
    sse.close();
    // Bound to its session: useless for another.
    expect((await fetch(`${b.url}/api/sidecar/sessions/other-session/stream?token=${encodeURIComponent(minted.token)}`)).status).toBe(403);
    // A callback token is not a stream token.
    const { token } = await sessionOnB(`${sessionId}-cb`);
    expect((await fetch(`${b.url}/api/sidecar/sessions/${sessionId}-cb/stream?token=${encodeURIComponent(token)}`)).status).toBe(401);
    // A stream token that names no API key (as older versions made them) could outlive its key's revocation.
    const keyless = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "stream", sessionId, organizationId: orgId, ttlSeconds: 60 });
    const refused = await fetch(`${b.url}/api/sidecar/sessions/${sessionId}/stream?token=${encodeURIComponent(keyless)}`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/names no API key/);
    expect((await a.api(`/api/sidecar/sessions/${sessionId}/stream`, { headers: { "last-event-id": "not-an-id" }, apiKey })).status).toBe(400);
  });
});

describe("live progress on the embedded default (PGlite + in-process)", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;
  let apiKey: string;
  const logLines: string[] = [];

  beforeAll(async () => {
    backend = await backendEnv("embedded");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, progress: true });
    nubabel = await startTestNubabel(
      { ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, PROGRESS_HEARTBEAT_MS: "100", LOG_LEVEL: "debug" },
      { logDestination: { write: (line: string) => void logLines.push(line) } },
    );
    apiKey = (await createOrganization(nubabel, "Acme")).apiKey;
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await backend?.cleanup();
  });

  it("streams a run's progress and replays it from Last-Event-ID 0", async () => {
    const sessionId = "embedded-progress";
    const live = await openSse(`${nubabel.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${apiKey}` });
    await live.until((c) => c.events.length === 1);
    expect((await nubabel.api("/api/delegate", { body: { prompt: "go", sessionId }, apiKey })).status).toBe(200);
    await live.until((c) => c.events.some((e) => e.type === "completed"));
    await live.until((c) => c.comments.includes("heartbeat"));
    live.close();

    const replay = await openSse(`${nubabel.url}/api/sidecar/sessions/${sessionId}/stream?lastEventId=0`, { authorization: `Bearer ${apiKey}` });
    await replay.until((c) => c.events.length === 4);
    replay.close();
    expect(live.events.map((e) => e.type)).toEqual(["connected", "status", "message_updated", "completed"]);
    expect(replay.events.slice(1).map((e) => e.id)).toEqual(live.events.slice(1).map((e) => e.id));
  });

  it("never writes an API key, capability token or stream token to its logs", async () => {
    const sessionId = "embedded-logs";
    const minted = (await (await nubabel.api(`/api/sessions/${sessionId}/stream-token`, { method: "POST", apiKey })).json()) as { token: string; url: string };
    const sse = await openSse(`${nubabel.url}${minted.url}`);
    await sse.until((c) => c.events.length === 1);
    expect((await nubabel.api("/api/delegate", { body: { prompt: "log me", sessionId }, apiKey })).status).toBe(200);
    await sse.until((c) => c.events.some((e) => e.type === "completed"));
    sse.close();
    const callbackToken = (sidecar.received.at(-1)!.body as DelegateRequest).callbackToken!;
    const logs = logLines.join("");
    expect(logs).toContain("incoming request");
    expect(logs).toContain("[Redacted]");
    for (const secret of [apiKey, minted.token, callbackToken, secrets.SIDECAR_SHARED_SECRET, secrets.NUBABEL_TOKEN_SECRET]) {
      expect(logs).not.toContain(secret);
    }
  });
});
