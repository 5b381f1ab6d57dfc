import { createServer, type Server } from "node:http";
import { unfinishedRequest } from "@nubabel/testkit";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capabilities, type DelegateRequest, type ErrorBody, Webhooks } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { postSigned, startFakeSidecar, toNubabel, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { openSse } from "./fixtures/sse-client.js";

describe("authentication, authorization and bad input", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;
  let acme: { organizationId: string; apiKey: string };
  let globex: { organizationId: string; apiKey: string };

  beforeAll(async () => {
    backend = await backendEnv("shared");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    nubabel = await startTestNubabel({
      ...backend.env,
      ...secrets,
      SIDECAR_URL: sidecar.url,
      BODY_LIMIT_BYTES: "4096",
      REQUEST_TIMEOUT_MS: "5000",
      CALLBACK_RATE_LIMIT_PER_SESSION: "4",
    });
    acme = await createOrganization(nubabel, "Acme");
    globex = await createOrganization(nubabel, "Globex");
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await backend?.cleanup();
  });

  const error = async (res: Response) => ({ status: res.status, ...((await res.json()) as ErrorBody) });

  /** Runs a delegation and returns what the sidecar was handed for callbacks. */
  const delegation = async (sessionId: string) => {
    const res = await nubabel.api("/api/delegate", { body: { prompt: "hi", sessionId }, apiKey: acme.apiKey });
    expect(res.status).toBe(200);
    const sent = sidecar.received.findLast((r) => r.kind === "delegate" && (r.body as DelegateRequest).session_id === sessionId);
    const body = sent!.body as DelegateRequest;
    return { token: body.callbackToken!, callbacks: body.callbacks!, opencodeSessionId: sent!.opencodeSessionId };
  };

  const event = (type: "status" | "completed" = "status") =>
    type === "completed"
      ? { type, data: { status: "success", output: "done" }, timestamp: new Date().toISOString() }
      : { type, data: { status: "busy" }, timestamp: new Date().toISOString() };

  it("refuses a missing or wrong API key with 401", async () => {
    for (const apiKey of [undefined, "nbk_wrong", "not-even-a-key", globex.apiKey.slice(0, -1) + "x"]) {
      const res = await nubabel.api("/api/delegate", { body: { prompt: "hi" }, apiKey });
      expect(await error(res)).toMatchObject({ status: 401, error: { code: "unauthorized" } });
    }
    expect((await nubabel.api("/api/sessions/ses_x")).status).toBe(401);
    expect((await nubabel.api("/api/sidecar/sessions/ses_x/stream")).status).toBe(401);
    expect((await nubabel.api("/api/sidecar/sessions/ses_x/stream?token=cap1.forged.sig")).status).toBe(401);
    expect(sidecar.received).toHaveLength(0);
  });

  it("answers malformed bodies with 400 naming the field", async () => {
    const cases: Array<[unknown, string]> = [
      [{}, "prompt"],
      [{ prompt: "" }, "prompt"],
      [{ prompt: 42 }, "prompt"],
      [{ prompt: "hi", sessionId: "has spaces/slash" }, "sessionId"],
      [{ prompt: "hi", category: "Not A Name" }, "category"],
      [{ prompt: "hi", load_skills: ["ok", "BAD!"] }, "load_skills.1"],
      ["{not json", "body"],
      [{ prompt: "  \n\t " }, "prompt"],
      // Misspelt, it would start a new conversation unnoticed.
      [{ prompt: "hi", sessionID: "thread-1" }, "sessionID"],
    ];
    for (const [body, field] of cases) {
      const res = await nubabel.api("/api/delegate", { body, apiKey: acme.apiKey });
      const got = await error(res);
      expect(got.status, JSON.stringify(body)).toBe(400);
      expect(got.error.message).toContain(field === "body" ? "body" : `${field}:`);
      expect((got.error.details as { fields: string[] }).fields).toContain(field);
    }
    // Text that is no JSON, and JSON that would poison a prototype: each says which it is.
    const broken = await nubabel.api("/api/delegate", { body: "{not json", apiKey: acme.apiKey });
    expect(await error(broken)).toMatchObject({ status: 400, error: { code: "invalid_request", message: "invalid body: body: is not valid JSON" } });
    const poisoned = await nubabel.api("/api/delegate", { body: '{"prompt":"hi","__proto__":{"admin":true}}', apiKey: acme.apiKey });
    expect(await error(poisoned)).toMatchObject({
      status: 400,
      error: { code: "invalid_request", message: 'invalid body: body: the key "__proto__" is not allowed (it would change an object\'s prototype)', details: { fields: ["body"] } },
    });
    const huge = await nubabel.api("/api/delegate", { body: { prompt: "x".repeat(8192) }, apiKey: acme.apiKey });
    expect(await error(huge)).toMatchObject({ status: 413, error: { code: "body_too_large", message: expect.stringContaining("BODY_LIMIT_BYTES") } });
    const form = await fetch(`${nubabel.url}/api/delegate`, {
      method: "POST",
      headers: { authorization: `Bearer ${acme.apiKey}`, "content-type": "application/x-www-form-urlencoded" },
      body: "prompt=hi",
    });
    expect(await error(form)).toMatchObject({ status: 415, error: { code: "unsupported_media_type", message: expect.stringContaining("application/json") } });
    // A body that never arrives in full is cut off (REQUEST_TIMEOUT_MS) rather than held for ever.
    expect(await unfinishedRequest(nubabel.url, "/api/delegate", 15_000)).toMatch(/^HTTP\/1\.1 408[^]*"code":"request_timeout".*REQUEST_TIMEOUT_MS/);
    expect(sidecar.received).toHaveLength(0);
  });

  it("refuses unsigned, tampered, replayed and wrongly-tokened callbacks", async () => {
    const { token, callbacks } = await delegation("auth-callbacks");
    const body = { progress: event() };
    const raw = JSON.stringify(body);

    const unsigned = await fetch(callbacks.progress, {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    });
    expect(await error(unsigned)).toMatchObject({ status: 401, error: { code: "unauthorized" } });

    const otherSecret = await postSigned(callbacks.progress, body, token, Webhooks.generateSecret());
    expect(otherSecret.status).toBe(401);

    const tampered = await postSigned(callbacks.progress, { progress: event("completed") }, token, secrets.SIDECAR_SHARED_SECRET, Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(callbacks.progress), raw));
    expect(tampered.status).toBe(401);

    const headers = Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(callbacks.progress), raw);
    expect((await postSigned(callbacks.progress, body, token, secrets.SIDECAR_SHARED_SECRET, headers)).status).toBe(200);
    const replay = await error(await postSigned(callbacks.progress, body, token, secrets.SIDECAR_SHARED_SECRET, headers));
    expect(replay).toMatchObject({ status: 401 });
    expect(replay.error.message).toMatch(/replayed/);

    const noToken = await postSigned(callbacks.progress, body, undefined, secrets.SIDECAR_SHARED_SECRET);
    expect(noToken.status).toBe(401);
    const streamToken = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "stream", sessionId: "auth-callbacks", organizationId: acme.organizationId, ttlSeconds: 60 });
    expect((await postSigned(callbacks.progress, body, streamToken, secrets.SIDECAR_SHARED_SECRET)).status).toBe(401);
    const expired = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: "auth-callbacks", organizationId: acme.organizationId, ttlSeconds: -1 });
    expect((await postSigned(callbacks.progress, body, expired, secrets.SIDECAR_SHARED_SECRET)).status).toBe(401);

    // A valid token for one session cannot post to another session's callbacks.
    const other = await delegation("auth-callbacks-other");
    const cross = await error(await postSigned(other.callbacks.progress, body, token, secrets.SIDECAR_SHARED_SECRET));
    expect(cross).toMatchObject({ status: 403, error: { code: "session_mismatch" } });
  });

  it("refuses an organizationId that differs from the token's with 403, and runs nothing", async () => {
    const sessionId = "auth-org-mismatch";
    const { token, callbacks } = await delegation(sessionId);
    const sse = await openSse(`${nubabel.url}/api/sidecar/sessions/${sessionId}/stream?lastEventId=0`, { authorization: `Bearer ${acme.apiKey}` });
    await sse.until((c) => c.events.some((e) => e.type === "connected"));

    const progress = await error(
      await postSigned(callbacks.progress, { organizationId: globex.organizationId, progress: event() }, token, secrets.SIDECAR_SHARED_SECRET),
    );
    expect(progress).toMatchObject({ status: 403, error: { code: "organization_mismatch" } });
    const invoke = await error(
      await postSigned(callbacks.mcpInvoke, { organizationId: globex.organizationId, provider: "notion", toolName: "search" }, token, secrets.SIDECAR_SHARED_SECRET),
    );
    expect(invoke).toMatchObject({ status: 403, error: { code: "organization_mismatch" } });

    // Its own organization works: nothing is connected yet, so invoke is a 404 saying it has no connections, and list is empty.
    const own = await error(
      await postSigned(callbacks.mcpInvoke, { organizationId: acme.organizationId, provider: "notion", toolName: "search" }, token, secrets.SIDECAR_SHARED_SECRET),
    );
    expect(own).toMatchObject({ status: 404, error: { code: "provider_not_found", details: { provider: "notion", available: [] } } });
    const list = await postSigned(callbacks.mcpList!, {}, token, secrets.SIDECAR_SHARED_SECRET);
    expect(await list.json()).toEqual({ providers: [] });

    // The refused progress never reached the log: the stream's next event is the one posted now.
    expect((await postSigned(callbacks.progress, { progress: event("completed") }, token, secrets.SIDECAR_SHARED_SECRET)).status).toBe(200);
    await sse.until((c) => c.events.some((e) => e.type === "completed"));
    sse.close();
    expect(sse.events.map((e) => e.type)).toEqual(["connected", "completed"]);
  });

  it("updates session state from the sidecar, but not to another OpenCode session", async () => {
    const sessionId = "auth-update";
    const { token, callbacks, opencodeSessionId } = await delegation(sessionId);
    const ok = await postSigned(callbacks.sessionUpdate, { state: { opencodeSessionId, status: "running" } }, token, secrets.SIDECAR_SHARED_SECRET);
    expect(await ok.json()).toEqual({ success: true });
    const view = (await (await nubabel.api(`/api/sessions/${sessionId}`, { apiKey: acme.apiKey })).json()) as { state: unknown };
    expect(view.state).toEqual({ opencodeSessionId, status: "running" });

    const hijack = await postSigned(callbacks.sessionUpdate, { state: { opencodeSessionId: "ses_someone_else", status: "completed" } }, token, secrets.SIDECAR_SHARED_SECRET);
    expect(await error(hijack)).toMatchObject({ status: 403, error: { code: "opencode_session_mismatch" } });
    const bad = await postSigned(callbacks.sessionUpdate, { state: { opencodeSessionId, status: "exploded" } }, token, secrets.SIDECAR_SHARED_SECRET);
    const badBody = await error(bad);
    expect(badBody.status).toBe(400);
    expect(badBody.error.message).toContain("state.status");
  });

  it("rate-limits a session's callbacks but never refuses its terminal event", async () => {
    const { token, callbacks } = await delegation("auth-rate");
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await postSigned(callbacks.progress, { progress: event() }, token, secrets.SIDECAR_SHARED_SECRET)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const terminal = await postSigned(callbacks.progress, { progress: event("completed") }, token, secrets.SIDECAR_SHARED_SECRET);
    expect(terminal.status).toBe(200);
  });

  it("answers 503 when the sidecar is down, or hangs, instead of waiting", async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((r) => closed.close(() => r()));

    const hung: Server = createServer(() => undefined);
    await new Promise<void>((r) => hung.listen(0, "127.0.0.1", r));
    const hungUrl = `http://127.0.0.1:${(hung.address() as AddressInfo).port}`;

    for (const url of [deadUrl, hungUrl]) {
      const other = await startTestNubabel({
        ...backend.env,
        ...secrets,
        // The embedded default allows one process per folder: give this instance its own.
        ...(backend.kind === "embedded" ? { NUBABEL_DATA_DIR: `${backend.env.NUBABEL_DATA_DIR}-${url.split(":").pop()}` } : {}),
        SIDECAR_URL: url,
        SIDECAR_REQUEST_TIMEOUT_MS: "300",
        SIDECAR_BREAKER_THRESHOLD: "2",
      });
      try {
        const key = backend.kind === "embedded" ? (await createOrganization(other, "Down")).apiKey : acme.apiKey;
        const codes: string[] = [];
        for (let i = 0; i < 3; i++) {
          const got = await error(await other.api("/api/delegate", { body: { prompt: "anyone there?" }, apiKey: key }));
          expect(got.status).toBe(503);
          codes.push(got.error.code);
        }
        expect(codes).toEqual(["sidecar_unavailable", "sidecar_unavailable", "sidecar_unavailable"]);
        const health = (await (await other.api("/health")).json()) as { status: string; sidecar: { ok: boolean } };
        expect(health).toMatchObject({ status: "degraded", sidecar: { ok: false } });
      } finally {
        await other.close();
      }
    }
    hung.closeAllConnections();
    await new Promise<void>((r) => hung.close(() => r()));
  });
});
