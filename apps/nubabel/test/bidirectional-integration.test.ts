import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type DelegateResponse, Capabilities, Webhooks } from "@nubabel/contracts";
import type { ModelServer } from "@nubabel/testkit";
import type { Sidecar } from "@nubabel/opencode-sidecar";
import { toNubabel } from "./fixtures/fake-sidecar.js";
import { backendEnv, flushPrefix, hasInfra, infra, tempDir } from "./fixtures/backends.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { openSse } from "./fixtures/sse-client.js";
import { startTcpProxy } from "./fixtures/tcp-proxy.js";

/**
 * The seed's four data flows on real parts: Nubabel on PostgreSQL and Redis (or the embedded
 * default), the real sidecar and OpenCode engine over real HTTP, the scripted model.
 */
type Answer = DelegateResponse & { error?: { code: string; message: string } };

for (const kind of ["shared", "embedded"] as const) {
  const label = kind === "shared" && hasInfra ? "PostgreSQL + Redis" : "PGlite + in-process";
  describe(`Bidirectional integration (${label})`, () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let stack: RealSidecar;
    let model: ModelServer;
    let sidecar: Sidecar;
    let nubabel: TestNubabel;
    let org: { organizationId: string; apiKey: string };
    let other: { organizationId: string; apiKey: string };

    beforeAll(async () => {
      backend = await backendEnv(kind);
      stack = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
      ({ model, sidecar } = stack);
      nubabel = await startTestNubabel({ ...backend.env, ...secrets, NUBABEL_PORT: String(stack.nubabelPort), SIDECAR_URL: sidecar.url });
      org = await createOrganization(nubabel, "Acme");
      other = await createOrganization(nubabel, "Globex");
    });
    afterAll(async () => {
      await nubabel?.close();
      await stack?.close();
      await backend?.cleanup();
    });
    beforeEach(() => model.reset());

    const delegate = async (body: Record<string, unknown>, apiKey = org.apiKey) => {
      const res = await nubabel.api("/api/delegate", { body, apiKey });
      return { status: res.status, body: (await res.json()) as Answer };
    };

    it("first request creates the mapping (Redis both ways and PostgreSQL); a follow-up resumes the same OpenCode session with its context", async () => {
      model.script({ text: "You have 5 tasks." }, { text: "2 are urgent." });
      const first = await delegate({ prompt: "Summarize my Notion tasks", sessionId: "thread-1" });
      expect(first.status).toBe(200);
      expect(first.body).toMatchObject({ status: "success", output: "You have 5 tasks.", metadata: { nubabelSessionId: "thread-1" } });
      const oc = first.body.metadata.opencodeSessionId;

      if (backend.kind === "shared") {
        const redis = new Redis(infra.redisUrl!);
        const prefix = backend.env.REDIS_KEY_PREFIX!;
        try {
          const forward = JSON.parse((await redis.get(`${prefix}session:mapping:${org.organizationId}:thread-1`))!);
          const backward = JSON.parse((await redis.get(`${prefix}session:mapping-oc:${oc}`))!);
          expect(forward).toMatchObject({ sessionId: "thread-1", opencodeSessionId: oc, sidecarUrl: sidecar.url });
          expect(backward).toEqual(forward);
          const ttl = await redis.ttl(`${prefix}session:mapping:${org.organizationId}:thread-1`);
          expect(ttl).toBeGreaterThan(23 * 3600);
          expect(ttl).toBeLessThanOrEqual(24 * 3600);
        } finally {
          redis.disconnect();
        }
        const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
        await db.connect();
        try {
          const { rows } = await db.query("select state from sessions where organization_id = $1 and id = $2", [org.organizationId, "thread-1"]);
          expect(rows[0].state).toMatchObject({ opencodeSessionId: oc });
        } finally {
          await db.end();
        }
      }

      const second = await delegate({ prompt: "How many are urgent?", sessionId: "thread-1" });
      expect(second.body).toMatchObject({ status: "success", output: "2 are urgent.", metadata: { opencodeSessionId: oc, nubabelSessionId: "thread-1" } });
      const seen = JSON.stringify(model.requests.at(-1)!.messages);
      expect(seen).toContain("Summarize my Notion tasks");
      expect(seen).toContain("You have 5 tasks.");

      const history = (await (await nubabel.api("/api/sessions/thread-1", { apiKey: org.apiKey })).json()) as {
        state: { opencodeSessionId: string; status: string };
        messages: Array<{ role: string; content: string }>;
      };
      expect(history.state).toMatchObject({ opencodeSessionId: oc, status: "completed" });
      expect(history.messages.map((m) => m.content)).toEqual(["Summarize my Notion tasks", "You have 5 tasks.", "How many are urgent?", "2 are urgent."]);
      expect((await nubabel.api("/api/sessions/thread-1", { apiKey: other.apiKey })).status).toBe(404);
    });

    it("a sidecar callback acts for the bound organization only", async () => {
      model.script(
        { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "search", organizationId: other.organizationId } }] },
        { text: "Notion is not connected." },
      );
      const res = await delegate({ prompt: "search notion", sessionId: "thread-tools" });
      expect(res.body).toMatchObject({ status: "success", output: "Notion is not connected." });
      // Nubabel answered the tool call for Acme (which has no connections), and the agent read that.
      const toolResult = JSON.stringify(model.requests.at(-1)!.messages);
      expect(toolResult).toMatch(/connection/i);

      // A callback whose body names another organization than its token is refused, and nothing runs.
      const token = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: "thread-tools", organizationId: org.organizationId, ttlSeconds: 60 });
      const body = JSON.stringify({ organizationId: other.organizationId, provider: "notion", toolName: "search", args: {} });
      const forged = await fetch(`${nubabel.url}/api/sidecar/mcp/invoke`, {
        method: "POST",
        body,
        headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(`${nubabel.url}/api/sidecar/mcp/invoke`), body) },
      });
      expect(forged.status).toBe(403);
    });

    it("progress reaches an SSE client in order, ending with one terminal event", async () => {
      const stream = await openSse(`${nubabel.url}/api/sidecar/sessions/thread-live/stream`, { authorization: `Bearer ${org.apiKey}` });
      expect(stream.status).toBe(200);
      try {
        model.script({ toolCalls: [{ name: "nubabel_mcp_list", arguments: {} }] }, { text: "Done looking.", chunks: 5, delayMs: 20 });
        const res = await delegate({ prompt: "look around", sessionId: "thread-live" });
        expect(res.body.status).toBe("success");
        await stream.until((c) => c.events.some((e) => e.type === "completed"), 20_000);
        const types = stream.events.map((e) => e.type);
        expect(types[0]).toBe("connected");
        expect(types.filter((t) => t === "completed" || t === "session_error")).toEqual(["completed"]);
        expect(types.indexOf("tool_started")).toBeLessThan(types.indexOf("tool_completed"));
        expect(stream.events.at(-1)).toMatchObject({ type: "completed", data: { output: "Done looking." } });
        const ids = stream.events.slice(1).map((e) => e.sseId);
        expect(ids.every((id) => id.length > 0)).toBe(true);
        expect(new Set(ids).size).toBe(ids.length);
      } finally {
        stream.close();
      }
    });

    it("ten concurrent first requests with one session id produce one OpenCode session", async () => {
      model.respond(() => ({ text: "ok", delayMs: 50 }));
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => delegate({ prompt: `hello ${i}`, sessionId: "thread-race" })));
      expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
      const ids = new Set(answers.map((a) => a.body.metadata.opencodeSessionId));
      expect(ids.size).toBe(1);
      // Every prompt ran, one after another, in that one session.
      const last = JSON.stringify(model.requests.at(-1)!.messages);
      for (let i = 0; i < 10; i++) expect(last).toContain(`hello ${i}`);
    });

    it.runIf(kind === "shared" && hasInfra)("Redis flushed mid-conversation: the follow-up still resumes the right session", async () => {
      model.script({ text: "The code word is heron." }, { text: "It was heron." });
      const first = await delegate({ prompt: "remember heron", sessionId: "thread-flush" });
      await flushPrefix(infra.redisUrl!, backend.env.REDIS_KEY_PREFIX!);
      const again = await delegate({ prompt: "what was it?", sessionId: "thread-flush" });
      expect(again.body.metadata.opencodeSessionId).toBe(first.body.metadata.opencodeSessionId);
      expect(JSON.stringify(model.requests.at(-1)!.messages)).toContain("The code word is heron.");
    });

    it.runIf(kind === "shared" && hasInfra)("Redis stopped mid-conversation: the follow-up still resumes the right session", async () => {
      const target = new URL(infra.redisUrl!);
      const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
      // A second instance behind the same public URL (as behind a load balancer), its Redis through a proxy we can cut.
      const viaProxy = await startTestNubabel({ ...backend.env, ...secrets, REDIS_URL: proxy.url, NUBABEL_URL: nubabel.url, SIDECAR_URL: sidecar.url });
      try {
        model.script({ text: "The colour is teal." }, { text: "It was teal." });
        const first = await viaProxy.api("/api/delegate", { body: { prompt: "remember teal", sessionId: "thread-redis-down" }, apiKey: org.apiKey });
        const firstBody = (await first.json()) as Answer;
        await proxy.stop();
        const second = await viaProxy.api("/api/delegate", { body: { prompt: "which colour?", sessionId: "thread-redis-down" }, apiKey: org.apiKey });
        const secondBody = (await second.json()) as Answer;
        expect(second.status).toBe(200);
        expect(secondBody).toMatchObject({ status: "success", output: "It was teal.", metadata: { opencodeSessionId: firstBody.metadata.opencodeSessionId } });
        expect(JSON.stringify(model.requests.at(-1)!.messages)).toContain("The colour is teal.");
      } finally {
        await viaProxy.close();
        await proxy.stop();
      }
    });

    it.runIf(kind === "shared" && hasInfra)("two instances: an SSE client on one gets progress posted to the other, and Last-Event-ID replays exactly what was missed", async () => {
      const second = await startTestNubabel({ ...backend.env, ...secrets, NUBABEL_URL: nubabel.url, SIDECAR_URL: sidecar.url });
      try {
        const streamUrl = `${second.url}/api/sidecar/sessions/thread-fanout/stream`;
        const auth = { authorization: `Bearer ${org.apiKey}` };
        const live = await openSse(streamUrl, auth);
        model.script({ text: "Fanned out across instances.", chunks: 4, delayMs: 20 });
        // Delegated through the second instance; the sidecar's callbacks land on the first.
        const res = await second.api("/api/delegate", { body: { prompt: "fan out", sessionId: "thread-fanout" }, apiKey: org.apiKey });
        expect(((await res.json()) as Answer).status).toBe("success");
        await live.until((c) => c.events.some((e) => e.type === "completed"), 20_000);
        live.close();
        const seen = live.events.filter((e) => e.type !== "connected");
        expect(seen.length).toBeGreaterThan(2);

        const cut = seen[1]!.sseId;
        const resumed = await openSse(streamUrl, { ...auth, "last-event-id": cut });
        await resumed.until((c) => c.events.some((e) => e.type === "completed"), 10_000);
        resumed.close();
        expect(resumed.events.filter((e) => e.type !== "connected").map((e) => e.sseId)).toEqual(seen.slice(2).map((e) => e.sseId));
      } finally {
        await second.close();
      }
    });

    it("sidecar down: a clear 503, quickly", async () => {
      const data = tempDir();
      const down = await startTestNubabel({ ...backend.env, ...secrets, NUBABEL_DATA_DIR: data.dir, SIDECAR_URL: "http://127.0.0.1:9" });
      try {
        const { apiKey } = await createOrganization(down, "Initech");
        const res = await down.api("/api/delegate", { body: { prompt: "hi" }, apiKey });
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/sidecar/i);
      } finally {
        await down.close();
        data.remove();
      }
    });
  });
}
