import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { DelegateResponse } from "@nubabel/contracts";
import { backendEnv, flushPrefix, hasInfra, infra } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startTcpProxy } from "./fixtures/tcp-proxy.js";

for (const kind of ["shared", "embedded"] as const) {
  describe(`delegation (${kind === "shared" && hasInfra ? "PostgreSQL + Redis" : "PGlite + in-process"})`, () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let sidecar: FakeSidecar;
    let nubabel: TestNubabel;
    let apiKey: string;
    let orgId: string;
    let otherKey: string;

    beforeAll(async () => {
      backend = await backendEnv(kind);
      sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, delegateDelayMs: 150 });
      nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url });
      ({ apiKey, organizationId: orgId } = await createOrganization(nubabel, "Acme"));
      otherKey = (await createOrganization(nubabel, "Globex")).apiKey;
    });
    afterAll(async () => {
      await nubabel?.close();
      await sidecar?.close();
      await backend?.cleanup();
    });

    const delegate = async (body: Record<string, unknown>, key = apiKey) => {
      const res = await nubabel.api("/api/delegate", { body, apiKey: key });
      return { status: res.status, body: (await res.json()) as DelegateResponse & { error?: { code: string } } };
    };

    it("creates the OpenCode session once, maps it, and resumes it on a follow-up", async () => {
      const first = await delegate({ prompt: "summarize my tasks", userId: "U1" });
      expect(first.status).toBe(200);
      expect(DelegateResponse.parse(first.body)).toBeTruthy();
      const sessionId = first.body.metadata.nubabelSessionId!;
      const oc = first.body.metadata.opencodeSessionId;
      expect(sessionId).toMatch(/^ses_/);

      const second = await delegate({ prompt: "how many are urgent?", sessionId });
      expect(second.status).toBe(200);
      expect(second.body.metadata.opencodeSessionId).toBe(oc);
      // The fake answers with the turns it saw in that OpenCode session: the context was resumed.
      expect(second.body.output).toBe(`turn 2 of ${oc}: how many are urgent? (earlier: summarize my tasks)`);

      const runs = sidecar.received.filter((r) => r.opencodeSessionId === oc);
      expect(runs.map((r) => r.kind)).toEqual(["delegate", "prompt"]);
      const prompt = runs[1]!.body as { callbacks?: { progress: string }; callbackToken?: string; organizationId?: string };
      expect(prompt.callbacks?.progress).toBe(`${nubabel.url}/api/sidecar/sessions/${sessionId}/progress`);
      expect(prompt.callbackToken).toMatch(/^cap1\./);
      expect(prompt.organizationId).toMatch(/^org_/);

      const view = await nubabel.api(`/api/sessions/${sessionId}`, { apiKey });
      const session = (await view.json()) as { state: unknown; messages: Array<{ role: string; content: string }> };
      expect(session.state).toEqual({ opencodeSessionId: oc, status: "completed" });
      expect(session.messages.map((m) => [m.role, m.content])).toEqual([
        ["user", "summarize my tasks"],
        ["assistant", first.body.output],
        ["user", "how many are urgent?"],
        ["assistant", second.body.output],
      ]);

      if (backend.kind === "shared") {
        const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
        await db.connect();
        const { rows } = await db.query("select opencode_session_id, sidecar_url from session_mappings where session_id = $1", [sessionId]);
        await db.end();
        expect(rows).toEqual([{ opencode_session_id: oc, sidecar_url: sidecar.url }]);
        const redis = new Redis(infra.redisUrl!);
        const prefix = backend.env.REDIS_KEY_PREFIX;
        const forward = JSON.parse((await redis.get(`${prefix}session:mapping:${orgId}:${sessionId}`))!);
        const reverse = JSON.parse((await redis.get(`${prefix}session:mapping-oc:${oc}`))!);
        const ttl = await redis.ttl(`${prefix}session:mapping:${orgId}:${sessionId}`);
        redis.disconnect();
        expect(forward).toMatchObject({ sessionId, opencodeSessionId: oc, sidecarUrl: sidecar.url });
        expect(reverse).toEqual(forward);
        expect(ttl).toBeGreaterThan(23 * 3600);
      }
    });

    it("has nothing to abort once a session's runs are done, and aborts nothing of another organization", async () => {
      const first = await delegate({ prompt: "short job" });
      const sessionId = first.body.metadata.nubabelSessionId!;
      const before = sidecar.received.length;
      const res = await nubabel.api(`/api/sessions/${sessionId}/abort`, { method: "POST", apiKey });
      expect(await res.json()).toEqual({ sessionId, aborted: false });
      expect(sidecar.received.slice(before)).toEqual([]);
      expect((await nubabel.api(`/api/sessions/${sessionId}/abort`, { method: "POST", apiKey: otherKey })).status).toBe(404);
      const runId = first.body.metadata.runId!;
      expect((await nubabel.api(`/api/runs/${runId}/abort`, { method: "POST", apiKey: otherKey })).status).toBe(404);
      expect(await (await nubabel.api(`/api/runs/${runId}/abort`, { method: "POST", apiKey })).json()).toEqual({ id: runId, status: "completed" });
    });

    it("says so when the sidecar has lost the mapped OpenCode session, rather than 404", async () => {
      const first = await delegate({ prompt: "before the crash" });
      sidecar.history.delete(first.body.metadata.opencodeSessionId);
      const after = await delegate({ prompt: "after the crash", sessionId: first.body.metadata.nubabelSessionId });
      expect(after.status).toBe(409);
      expect(after.body.error?.code).toBe("opencode_session_lost");
      const view = (await (await nubabel.api(`/api/sessions/${first.body.metadata.nubabelSessionId}`, { apiKey })).json()) as { state: { status: string } };
      expect(view.state.status).toBe("failed");
    });

    it("passes the sidecar's refusal of an unknown category through, and keeps the prompt out of history", async () => {
      const sessionId = `category-${Date.now()}`;
      const refused = await nubabel.api("/api/delegate", { body: { prompt: "hi", sessionId, category: "nope" }, apiKey });
      const body = (await refused.json()) as { error: { code: string; message: string; details: { known: string[] } } };
      expect(refused.status).toBe(400);
      expect(body.error.code).toBe("unknown_selection");
      expect(body.error.details.known).toContain("quick");
      const view = (await (await nubabel.api(`/api/sessions/${sessionId}`, { apiKey })).json()) as { state: unknown; messages: unknown[] };
      expect(view).toMatchObject({ state: { opencodeSessionId: null, status: "created" }, messages: [] });
      const ok = await delegate({ prompt: "hi", sessionId, category: "quick" });
      expect(ok.status).toBe(200);
      expect(sidecar.received.filter((r) => r.kind === "delegate" && (r.body as { session_id: string }).session_id === sessionId)).toHaveLength(1);
    });

    it("creates a caller-chosen session on first use; another organization's same id is a session of its own", async () => {
      const sessionId = `slack:T1:C1:${Date.now()}.0001`;
      const first = await delegate({ prompt: "hello", sessionId });
      expect(first.status).toBe(200);
      expect(first.body.metadata.nubabelSessionId).toBe(sessionId);
      expect((await nubabel.api(`/api/sessions/${encodeURIComponent(sessionId)}`, { apiKey: otherKey })).status).toBe(404);

      const theirs = await delegate({ prompt: "mine too", sessionId }, otherKey);
      expect(theirs.status).toBe(200);
      expect(theirs.body.metadata.opencodeSessionId).not.toBe(first.body.metadata.opencodeSessionId);
      expect(theirs.body.output).toContain("(earlier: none)");
      const view = async (key: string) =>
        ((await (await nubabel.api(`/api/sessions/${encodeURIComponent(sessionId)}`, { apiKey: key })).json()) as { messages: Array<{ content: string }> }).messages.map((m) => m.content);
      expect(await view(apiKey)).toEqual(["hello", first.body.output]);
      expect(await view(otherKey)).toEqual(["mine too", theirs.body.output]);
      expect((await nubabel.api(`/api/sessions/ses_doesnotexist`, { apiKey })).status).toBe(404);
    });

    it("turns ten concurrent first requests for one session into one OpenCode session", async () => {
      const sessionId = `thread-${Date.now()}`;
      const before = sidecar.received.length;
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => delegate({ prompt: `q${i}`, sessionId })));
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      const ocIds = new Set(results.map((r) => r.body.metadata.opencodeSessionId));
      expect(ocIds.size).toBe(1);
      const mine = sidecar.received.slice(before);
      expect(mine.filter((r) => r.kind === "delegate")).toHaveLength(1);
      expect(mine.filter((r) => r.kind === "prompt")).toHaveLength(9);
      expect(sidecar.history.get([...ocIds][0]!)).toHaveLength(10);
    });

    it("follows a run the sidecar accepted too slowly to say so in time (stand-in sidecar)", async () => {
      const slow = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, acceptDelayMs: 1_500 });
      const impatient = await startTestNubabel({
        ...backend.env,
        ...secrets,
        ...(backend.kind === "embedded" ? { NUBABEL_DATA_DIR: `${backend.env.NUBABEL_DATA_DIR}-slow` } : {}),
        SIDECAR_URL: slow.url,
        SIDECAR_REQUEST_TIMEOUT_MS: "300",
        SIDECAR_BREAKER_THRESHOLD: "20",
      });
      try {
        const key = backend.kind === "embedded" ? (await createOrganization(impatient, "Slowpoke")).apiKey : apiKey;
        const res = await impatient.api("/api/delegate", { body: { prompt: "are you there?" }, apiKey: key });
        const body = (await res.json()) as DelegateResponse;
        expect(res.status).toBe(200);
        expect(body.output).toContain("are you there?");
        // One turn, however many times the hand-over was tried: the run id made every try the same run.
        expect(slow.runs.size).toBe(1);
        expect([...slow.history.values()].flat()).toEqual(["are you there?"]);
      } finally {
        await impatient.close();
        await slow.close();
      }
    });

    it("resumes the session on a follow-up sent the moment a first turn answers before the sidecar said it took it (stand-in sidecar)", async () => {
      // The turn's answer comes 300 ms before the hand-over's 202: the run must not end before the
      // hand-over records the session's mapping, or the follow-up would start a second OpenCode session.
      const quick = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, acceptDelayMs: 300 });
      const fast = await startTestNubabel({
        ...backend.env,
        ...secrets,
        ...(backend.kind === "embedded" ? { NUBABEL_DATA_DIR: `${backend.env.NUBABEL_DATA_DIR}-quick` } : {}),
        SIDECAR_URL: quick.url,
      });
      try {
        const key = backend.kind === "embedded" ? (await createOrganization(fast, "Quick")).apiKey : apiKey;
        const first = (await (await fast.api("/api/delegate", { body: { prompt: "first" }, apiKey: key })).json()) as DelegateResponse;
        const res = await fast.api("/api/delegate", { body: { prompt: "second", sessionId: first.metadata.nubabelSessionId }, apiKey: key });
        const second = (await res.json()) as DelegateResponse;
        expect(res.status).toBe(200);
        expect(second.metadata.opencodeSessionId).toBe(first.metadata.opencodeSessionId);
        expect(second.output).toBe(`turn 2 of ${first.metadata.opencodeSessionId}: second (earlier: first)`);
        expect(quick.received.map((r) => r.kind)).toEqual(["delegate", "prompt"]);
      } finally {
        await fast.close();
        await quick.close();
      }
    });

    it.runIf(kind === "shared" && hasInfra)("resumes the session when that early answer reaches another instance than the one handing the run over", async () => {
      const quick = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, acceptDelayMs: 300 });
      const b = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: quick.url });
      const a = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: quick.url, NUBABEL_URL: b.url });
      try {
        const first = (await (await a.api("/api/delegate", { body: { prompt: "first" }, apiKey })).json()) as DelegateResponse;
        const second = (await (await a.api("/api/delegate", { body: { prompt: "second", sessionId: first.metadata.nubabelSessionId }, apiKey })).json()) as DelegateResponse;
        expect(second.metadata.opencodeSessionId).toBe(first.metadata.opencodeSessionId);
        expect(quick.received.map((r) => r.kind)).toEqual(["delegate", "prompt"]);
      } finally {
        await a.close();
        await b.close();
        await quick.close();
      }
    });

    it.runIf(kind === "shared" && hasInfra)("ends a run whose answer came when its hand-over is still unrecorded a few seconds on, rather than holding the answer", async () => {
      const stuck = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, acceptDelayMs: 4_500 });
      const patient = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: stuck.url, SIDECAR_REQUEST_TIMEOUT_MS: "10000" });
      try {
        const res = await patient.api("/api/delegate", { body: { prompt: "answered early" }, apiKey });
        const body = (await res.json()) as DelegateResponse;
        expect(res.status).toBe(200);
        expect(body.output).toContain("answered early");
        // Answered while the sidecar had still not said it took the run.
        expect(stuck.accepts()).toBe(0);
        await vi.waitFor(() => expect(stuck.accepts()).toBe(1), { timeout: 5_000, interval: 100 });
      } finally {
        await patient.close();
        await stuck.close();
      }
    });

    it.runIf(kind === "shared" && hasInfra)("sends follow-ups to the sidecar that owns the session, whichever instance takes them", async () => {
      const otherSidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
      const other = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: otherSidecar.url });
      try {
        const first = await delegate({ prompt: "on sidecar one" });
        const res = await other.api("/api/delegate", { body: { prompt: "via the other instance", sessionId: first.body.metadata.nubabelSessionId }, apiKey });
        const second = (await res.json()) as DelegateResponse;
        expect(res.status).toBe(200);
        expect(second.metadata.opencodeSessionId).toBe(first.body.metadata.opencodeSessionId);
        expect(otherSidecar.received).toEqual([]);
        const fresh = (await (await other.api("/api/delegate", { body: { prompt: "new session" }, apiKey })).json()) as DelegateResponse;
        expect(otherSidecar.received.map((r) => [r.kind, r.opencodeSessionId])).toEqual([["delegate", fresh.metadata.opencodeSessionId]]);
      } finally {
        await other.close();
        await otherSidecar.close();
      }
    });

    it.runIf(kind === "shared" && hasInfra)("answers a caller waiting on one instance when the run's result reaches another", async () => {
      // B takes the sidecar's callbacks for runs A starts (A's public URL is B's), as a load balancer might.
      const b = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url });
      const a = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, NUBABEL_URL: b.url });
      const listener = new Redis(infra.redisUrl!);
      const endings: string[] = [];
      try {
        await listener.subscribe(`${backend.env.REDIS_KEY_PREFIX}progress:endings`);
        listener.on("message", (_channel, runId: string) => endings.push(runId));
        const res = await a.api("/api/delegate", { body: { prompt: "answered elsewhere" }, apiKey });
        const body = (await res.json()) as DelegateResponse;
        expect(res.status).toBe(200);
        expect(body.output).toContain("answered elsewhere");
        const sent = sidecar.received.at(-1)!.body as { callbacks: { runResult: string } };
        expect(sent.callbacks.runResult.startsWith(`${b.url}/`)).toBe(true);
        // A heard of the ending on the one channel of all endings, not by subscribing per run.
        expect(endings).toContain(body.metadata.runId);
      } finally {
        listener.disconnect();
        await a.close();
        await b.close();
      }
    });

    it.runIf(kind === "shared" && hasInfra)("resumes the right session after Redis is flushed", async () => {
      const first = await delegate({ prompt: "remember 42" });
      const sessionId = first.body.metadata.nubabelSessionId!;
      expect(await flushPrefix(infra.redisUrl!, backend.env.REDIS_KEY_PREFIX!)).toBeGreaterThan(0);
      const second = await delegate({ prompt: "what number?", sessionId });
      expect(second.status).toBe(200);
      // The follow-up's mapping comes with its admission, from PostgreSQL: the cache is not needed.
      expect(second.body.metadata.opencodeSessionId).toBe(first.body.metadata.opencodeSessionId);
    });

    it.runIf(kind === "shared" && hasInfra)("resumes the right session while Redis is unreachable", async () => {
      const target = new URL(infra.redisUrl!);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
      const viaProxy = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, REDIS_URL: proxy.url });
      try {
        const first = await viaProxy.api("/api/delegate", { body: { prompt: "first" }, apiKey });
        const firstBody = (await first.json()) as DelegateResponse;
        expect(first.status).toBe(200);
        await proxy.stop();
        const second = await viaProxy.api("/api/delegate", {
          body: { prompt: "second", sessionId: firstBody.metadata.nubabelSessionId },
          apiKey,
        });
        const secondBody = (await second.json()) as DelegateResponse;
        expect(second.status).toBe(200);
        expect(secondBody.metadata.opencodeSessionId).toBe(firstBody.metadata.opencodeSessionId);
        const health = (await (await viaProxy.api("/health")).json()) as { status: string; redis: { ok: boolean } };
        expect(health).toMatchObject({ status: "degraded", redis: { ok: false } });

        // Runs of one session start one at a time in the database, Redis or not: racing first
        // requests still make one OpenCode session, and nothing needs aborting.
        const sessionId = `no-lock-${Date.now()}`;
        const before = sidecar.received.length;
        const racers = await Promise.all(
          Array.from({ length: 4 }, () => viaProxy.api("/api/delegate", { body: { prompt: "race", sessionId }, apiKey })),
        );
        expect(racers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
        const mine = sidecar.received.slice(before);
        expect(mine.filter((r) => r.kind === "delegate")).toHaveLength(1);
        expect(mine.filter((r) => r.kind === "prompt")).toHaveLength(3);
        expect(mine.filter((r) => r.kind === "abort")).toEqual([]);
      } finally {
        await viaProxy.close();
        await proxy.stop();
      }
    });
  });
}
