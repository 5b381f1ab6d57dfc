import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiRun, ApiRunAccepted, Capabilities, DelegateResponse, type RunResult, Webhooks } from "@nubabel/contracts";
import type { RecordedRequest } from "@nubabel/testkit";
import { backendEnv, hasInfra } from "./fixtures/backends.js";
import { postSigned, toNubabel } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";
import { openSse } from "./fixtures/sse-client.js";

/**
 * Issue 8's acceptance on real parts: the real sidecar and OpenCode engine with the scripted model,
 * PostgreSQL + Redis and PGlite + in-process.
 */
for (const kind of ["shared", "embedded"] as const) {
  describe(`durable runs on the real sidecar (${kind === "shared" && hasInfra ? "PostgreSQL + Redis" : "PGlite + in-process"})`, () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let real: RealSidecar;
    let nubabel: TestNubabel;
    let acme: { apiKey: string; organizationId: string };
    let globex: { apiKey: string; organizationId: string };
    const env = () => ({
      ...backend.env,
      ...secrets,
      SIDECAR_URL: real.sidecar.url,
      NUBABEL_PORT: String(real.nubabelPort),
      SIDECAR_REQUEST_TIMEOUT_MS: "2000",
      ORG_MAX_RUNNING: "2",
      ORG_MAX_QUEUED: "3",
      RUN_RECONCILE_INTERVAL_MS: "1000",
    });

    beforeAll(async () => {
      backend = await backendEnv(kind);
      real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
      nubabel = await startTestNubabel(env());
      acme = await createOrganization(nubabel, "Acme");
      globex = await createOrganization(nubabel, "Globex");
      // The engine boots an organization's instance on its first turn, which can take longer than
      // the 2 s hand-over timeout set here on a slow machine; that boot is not what these tests
      // measure, so each organization has had a turn before they run.
      real.model.respond(() => ({ text: "warm" }));
      // A turn whose hand-over timed out while the instance booted fails; the next one finds it up.
      for (const org of [acme, globex]) {
        await vi.waitFor(
          async () => expect((await delegate({ prompt: "warm up", sessionId: "warm-up" }, org.apiKey)).status).toBe(200),
          { timeout: 60_000, interval: 500 },
        );
      }
    });
    afterAll(async () => {
      await nubabel?.close();
      await real?.close();
      await backend?.cleanup();
    });
    beforeEach(() => real.model.reset());

    const delegate = async (body: Record<string, unknown>, apiKey = acme.apiKey, async = false, via = nubabel) => {
      const res = await via.api("/api/delegate", { body, apiKey, headers: async ? { prefer: "respond-async" } : {} });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    };
    const run = async (runId: string, apiKey = acme.apiKey) => ApiRun.parse(await (await nubabel.api(`/api/runs/${runId}`, { apiKey })).json());
    const settled = (runId: string, apiKey = acme.apiKey, timeout = 20_000) =>
      vi.waitFor(
        async () => {
          const r = await run(runId, apiKey);
          expect(["completed", "failed", "aborted"]).toContain(r.status);
          return r;
        },
        { timeout, interval: 100 },
      );
    const promptOf = (r: RecordedRequest) => JSON.stringify(r.messages.filter((m: { role: string }) => m.role === "user").at(-1)?.content ?? "");

    it("lets two organizations use the same session id at once, with separate histories", async () => {
      real.model.respond((r) => ({ text: `answer to ${promptOf(r).includes("acme") ? "acme" : "globex"}`, delayMs: 300 }));
      const [a, g] = await Promise.all([
        delegate({ prompt: "acme asks", sessionId: "thread-1" }),
        delegate({ prompt: "globex asks", sessionId: "thread-1" }, globex.apiKey),
      ]);
      expect([a.status, g.status]).toEqual([200, 200]);
      expect(a.body.output).toBe("answer to acme");
      expect(g.body.output).toBe("answer to globex");
      const history = async (apiKey: string) =>
        ((await (await nubabel.api("/api/sessions/thread-1", { apiKey })).json()) as { messages: Array<{ content: string }> }).messages.map((m) => m.content);
      expect(await history(acme.apiKey)).toEqual(["acme asks", "answer to acme"]);
      expect(await history(globex.apiKey)).toEqual(["globex asks", "answer to globex"]);
    });

    it("accepts with Prefer: respond-async at once while the model takes 5 s, then completes with output and usage on the run and the stream", async () => {
      real.model.script({ text: "the slow answer", delayMs: 5_000 });
      const sessionId = `async-${Date.now()}`;
      const sse = await openSse(`${nubabel.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${acme.apiKey}` });
      const started = Date.now();
      const accepted = await delegate({ prompt: "take your time", sessionId }, acme.apiKey, true);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(accepted.status).toBe(202);
      expect(accepted.headers.get("preference-applied")).toBe("respond-async");
      const body = ApiRunAccepted.parse(accepted.body);
      expect(body).toMatchObject({ sessionId, links: { run: `/api/runs/${body.runId}` } });
      await vi.waitFor(async () => expect((await run(body.runId)).status).toBe("running"), { timeout: 3_000, interval: 50 });
      const done = await settled(body.runId);
      expect(done).toMatchObject({ status: "completed", output: "the slow answer" });
      expect(done.usage?.outputTokens).toBeGreaterThan(0);
      await sse.until((c) => c.events.some((e) => e.type === "completed"));
      const terminal = sse.events.find((e) => e.type === "completed")!;
      expect(terminal).toMatchObject({ runId: body.runId, data: { status: "success", output: "the slow answer" } });
      expect(sse.events.filter((e) => e.type === "completed" || e.type === "session_error")).toHaveLength(1);
      sse.close();
      const listed = (await (await nubabel.api(`/api/sessions/${sessionId}/runs`, { apiKey: acme.apiKey })).json()) as { runs: unknown[] };
      expect(listed.runs.map((r) => ApiRun.parse(r).id)).toEqual([body.runId]);
    });

    it("aborts a first turn one second in: aborted within 3 s and the model hears nothing more of it", async () => {
      real.model.respond(() => ({ text: "too late", delayMs: 8_000 }));
      const accepted = ApiRunAccepted.parse((await delegate({ prompt: "stop me" }, acme.apiKey, true)).body);
      await real.model.waitForRequests(1, 30_000);
      await sleep(1_000);
      const asked = Date.now();
      const res = await nubabel.api(`/api/runs/${accepted.runId}/abort`, { method: "POST", apiKey: acme.apiKey });
      expect(res.status).toBe(200);
      const ended = await settled(accepted.runId, acme.apiKey, 3_000);
      expect(ended.status).toBe("aborted");
      expect(Date.now() - asked).toBeLessThan(3_000);
      const seen = real.model.requests.length;
      await sleep(1_500);
      expect(real.model.requests.length).toBe(seen);
      // Another organization cannot see or stop it.
      expect((await nubabel.api(`/api/runs/${accepted.runId}`, { apiKey: globex.apiKey })).status).toBe(404);
    });

    it("completes a 6-second turn with SIDECAR_REQUEST_TIMEOUT_MS=2000", async () => {
      real.model.script({ text: "worth the wait", delayMs: 6_000 });
      const res = await delegate({ prompt: "slow one" });
      expect(res.status).toBe(200);
      expect(DelegateResponse.parse(res.body)).toMatchObject({ output: "worth the wait", status: "success" });
      expect((res.body.metadata as { runId: string }).runId).toMatch(/^run_/);
    });

    it("goes on when a waiting caller goes away, and names a malformed run id", async () => {
      real.model.script({ text: "finished without its caller", delayMs: 1_500 });
      const sessionId = `gone-${Date.now()}`;
      const caller = new AbortController();
      const waiting = nubabel
        .api("/api/delegate", { body: { prompt: "I will not wait", sessionId }, apiKey: acme.apiKey, signal: caller.signal })
        .catch((err: Error) => err);
      await real.model.waitForRequests(1, 30_000);
      caller.abort();
      expect(await waiting).toBeInstanceOf(Error);
      const listed = async () => ((await (await nubabel.api(`/api/sessions/${sessionId}/runs`, { apiKey: acme.apiKey })).json()) as { runs: unknown[] }).runs.map((r) => ApiRun.parse(r));
      await vi.waitFor(async () => expect((await listed())[0]).toMatchObject({ status: "completed", output: "finished without its caller" }), { timeout: 15_000, interval: 100 });
      const bad = await nubabel.api("/api/runs/not-a-run", { apiKey: acme.apiKey });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { details: { fields: string[] } } }).error.details.fields).toEqual(["runId"]);
      expect((await nubabel.api("/api/runs/run_doesnotexist", { apiKey: acme.apiKey })).status).toBe(404);
    });

    const admissionCase = async (second?: TestNubabel) => {
      real.model.respond((r) => ({ text: `done ${promptOf(r)}`, delayMs: promptOf(r).includes("other org") ? 10 : 1_500 }));
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await delegate({ prompt: `job ${i}` }, acme.apiKey, true, second && i % 2 ? second : nubabel);
        expect(res.status).toBe(202);
        ids.push(ApiRunAccepted.parse(res.body).runId);
      }
      const refused = await delegate({ prompt: "job 5" }, acme.apiKey, true, second ?? nubabel);
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(JSON.stringify(refused.body)).toMatch(/already has 5 unfinished runs \(\d running, \d waiting\)/);
      const queued = await run(ids[4]!);
      expect(queued).toMatchObject({ status: "queued", queuePosition: 3 });
      // Another organization is not held up by Acme's queue.
      const other = await delegate({ prompt: "other org" }, globex.apiKey);
      expect(other.status).toBe(200);
      const ended = await Promise.all(ids.map((id) => settled(id, acme.apiKey, 30_000)));
      expect(ended.map((r) => r.status)).toEqual(Array(5).fill("completed"));
      const starts = ended.map((r) => Date.parse(r.startedAt!));
      expect([...starts].sort((x, y) => x - y)).toEqual(starts);
      // Never more than two of Acme's turns at the model at once (each answer takes 1.5 s).
      const mine = real.model.requests.filter((r) => promptOf(r).includes("job")).map((r) => r.receivedAt);
      expect(mine).toHaveLength(5);
      for (const t of mine) expect(mine.filter((u) => u <= t && t < u + 1_500).length).toBeLessThanOrEqual(2);
    };

    it("holds an organization to ORG_MAX_RUNNING=2 and ORG_MAX_QUEUED=3, in order, without holding up another", () => admissionCase());

    it.runIf(kind === "shared" && hasInfra)("holds the same limits across two Nubabel instances", async () => {
      const second = await startTestNubabel({ ...env(), NUBABEL_PORT: "0", NUBABEL_URL: nubabel.url });
      try {
        await admissionCase(second);
      } finally {
        await second.close();
      }
    });

    it("stores one answer when the terminal callback is delivered again, with the same or a new webhook-id", async () => {
      const res = await delegate({ prompt: "once only" });
      const meta = res.body.metadata as { runId: string; nubabelSessionId: string; opencodeSessionId: string };
      const token = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: meta.nubabelSessionId, organizationId: acme.organizationId, ttlSeconds: 60 });
      const url = `${nubabel.url}/api/sidecar/sessions/${meta.nubabelSessionId}/result`;
      const result: RunResult = {
        runId: meta.runId,
        opencodeSessionId: meta.opencodeSessionId,
        status: "completed",
        output: "a forged second answer",
        durationMs: 5,
        finishedAt: new Date().toISOString(),
      };
      const raw = JSON.stringify(result);
      const id = Webhooks.messageId();
      for (const headers of [Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(url), raw, new Date(), id), Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(url), raw, new Date(), id), Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(url), raw)]) {
        const again = await postSigned(url, result, token, secrets.SIDECAR_SHARED_SECRET, headers);
        expect(again.status).toBe(200);
        expect(await again.json()).toEqual({ success: true, status: "completed" });
      }
      const view = (await (await nubabel.api(`/api/sessions/${meta.nubabelSessionId}`, { apiKey: acme.apiKey })).json()) as {
        messages: Array<{ content: string; createdAt: string }>;
      };
      expect(view.messages.map((m) => m.content)).toEqual(["once only", res.body.output]);
      // The prompt keeps the time it was asked, before the answer's.
      expect(Date.parse(view.messages[0]!.createdAt)).toBeLessThan(Date.parse(view.messages[1]!.createdAt));
      expect((await run(meta.runId)).output).toBe(res.body.output);
      // A result for this run under another organization's token is refused and changes nothing.
      const foreign = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: meta.nubabelSessionId, organizationId: globex.organizationId, ttlSeconds: 60 });
      expect((await postSigned(url, result, foreign, secrets.SIDECAR_SHARED_SECRET)).status).toBe(404);
    });

    it("appends the progress that rides with a result before the run's terminal event, once however often it is delivered", async () => {
      real.model.script({ text: "the engine's own answer, too late", delayMs: 4_000 });
      const sessionId = `tail-${Date.now()}`;
      const sse = await openSse(`${nubabel.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${acme.apiKey}` });
      const accepted = ApiRunAccepted.parse((await delegate({ prompt: "steps then answer", sessionId }, acme.apiKey, true)).body);
      await vi.waitFor(async () => expect((await run(accepted.runId)).status).toBe("running"), { timeout: 3_000, interval: 50 });
      // The real turn's first progress is in (it comes in batches), so nothing of it can follow the forged end.
      await sse.until((c) => c.events.some((e) => e.runId === accepted.runId));
      const token = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId, organizationId: acme.organizationId, ttlSeconds: 60 });
      const url = `${nubabel.url}/api/sidecar/sessions/${sessionId}/result`;
      const at = new Date().toISOString();
      const result: RunResult = {
        runId: accepted.runId,
        opencodeSessionId: "ses_tail",
        status: "completed",
        output: "answered with its last steps",
        durationMs: 5,
        finishedAt: at,
        events: [
          { type: "tool_started", data: { tool: "read", callId: "call_tail" }, timestamp: at, runId: accepted.runId, seq: 90 },
          { type: "message_updated", data: { text: "answered with its last steps" }, timestamp: at, runId: accepted.runId, seq: 91 },
        ],
      };
      for (let i = 0; i < 2; i++) {
        const res = await postSigned(url, result, token, secrets.SIDECAR_SHARED_SECRET);
        expect(res.status).toBe(200);
      }
      await sse.until((c) => c.events.some((e) => e.type === "completed"));
      const mine = sse.events.filter((e) => e.runId === accepted.runId).map((e) => e.type);
      expect(mine.slice(-3)).toEqual(["tool_started", "message_updated", "completed"]);
      expect(mine.filter((t) => t === "tool_started" || t === "message_updated")).toEqual(["tool_started", "message_updated"]);
      expect((await run(accepted.runId)).output).toBe("answered with its last steps");
      sse.close();
    });
  });
}
