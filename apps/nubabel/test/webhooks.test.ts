import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import pg from "pg";
import { Webhook } from "standardwebhooks";
import { WebhookDeliveryList, WebhookEndpoint, WebhookEndpointCreated, WebhookEvent, WebhookSecretRotated } from "@nubabel/contracts";
import { backendEnv, hasInfra } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startService, waitHealthy } from "./fixtures/processes.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";

/** One request the receiver got, and what it answered. */
interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
  answered: number;
}

/**
 * A local receiver: records every request and answers what `answer(path, n)` says (n: how many
 * requests that path had before this one); 200 by default.
 */
async function startReceiver() {
  const received: Received[] = [];
  let answer: (path: string, n: number) => number = () => 200;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      const status = answer(path, received.filter((r) => r.path === path).length);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      received.push({ path, headers, body: Buffer.concat(chunks).toString("utf8"), at: performance.now(), answered: status });
      res.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : `nope ${"x".repeat(3000)}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    received,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    port,
    on: (fn: (path: string, n: number) => number) => void (answer = fn),
    at: (path: string) => received.filter((r) => r.path === path),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const events = (list: Received[]) => list.map((r) => WebhookEvent.parse(JSON.parse(r.body)));

for (const kind of ["shared", "embedded"] as const) {
  describe(`organization webhooks on the real sidecar (${kind === "shared" && hasInfra ? "PostgreSQL + Redis" : "PGlite + in-process"})`, () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let real: RealSidecar;
    let nubabel: TestNubabel;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const env = (extra: Record<string, string> = {}) => ({
      ...backend.env,
      ...secrets,
      SIDECAR_URL: real.sidecar.url,
      NUBABEL_PORT: String(real.nubabelPort),
      SIDECAR_REQUEST_TIMEOUT_MS: "2000",
      RUN_RECONCILE_INTERVAL_MS: "1000",
      NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS: "true",
      NUBABEL_WEBHOOKS_RETRY_BASE_MS: "200",
      NUBABEL_WEBHOOKS_TIMEOUT_MS: "2000",
      NUBABEL_WEBHOOKS_POLL_MS: "100",
      ...extra,
    });

    beforeAll(async () => {
      backend = await backendEnv(kind);
      real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET);
      receiver = await startReceiver();
      nubabel = await startTestNubabel(env());
    });
    afterAll(async () => {
      await nubabel?.close();
      await receiver?.close();
      await real?.close();
      await backend?.cleanup();
    });

    const organization = (name: string) => createOrganization(nubabel, name);
    const addWebhook = async (apiKey: string, body: Record<string, unknown>) => {
      const res = await nubabel.api("/api/webhooks", { apiKey, body });
      expect(res.status, await res.clone().text()).toBe(201);
      return WebhookEndpointCreated.parse(await res.json());
    };
    const runToEnd = async (apiKey: string, prompt: string) => {
      const res = await nubabel.api("/api/delegate", { apiKey, body: { prompt } });
      expect(res.status).toBe(200);
      return (await res.json()) as { output: string; metadata: { runId: string } };
    };
    const deliveries = async (apiKey: string, webhookId: string) =>
      WebhookDeliveryList.parse(await (await nubabel.api(`/api/webhooks/${webhookId}/deliveries`, { apiKey })).json()).deliveries;

    it("sends run.started and run.completed, signed with the secret shown at creation, carrying output and usage", async () => {
      real.model.respond(() => ({ text: "the answer is 42" }));
      const acme = await organization("Acme");
      const hook = await addWebhook(acme.apiKey, { url: receiver.url("/acme"), events: ["run.started", "run.completed"] });
      expect(hook.secret).toMatch(/^whsec_/);
      expect(hook).toMatchObject({ url: receiver.url("/acme"), events: ["run.started", "run.completed"], enabled: true });
      const listed = (await (await nubabel.api(`/api/webhooks/${hook.id}`, { apiKey: acme.apiKey })).json()) as Record<string, unknown>;
      expect(listed.secret).toBeUndefined();

      const answer = await runToEnd(acme.apiKey, "what is the answer?");
      await vi.waitFor(() => expect(receiver.at("/acme")).toHaveLength(2), { timeout: 10_000, interval: 50 });
      const got = receiver.at("/acme");
      const verifier = new Webhook(hook.secret);
      for (const r of got) expect(() => verifier.verify(r.body, r.headers)).not.toThrow();
      const [started, completed] = events(got);
      expect(started).toMatchObject({ type: "run.started", data: { id: answer.metadata.runId, status: "running" } });
      expect(completed).toMatchObject({ type: "run.completed", data: { id: answer.metadata.runId, status: "completed", output: "the answer is 42" } });
      expect(completed!.data.usage?.outputTokens).toBeGreaterThan(0);
      // `data` is what GET /api/runs/:id shows.
      const shown = await (await nubabel.api(`/api/runs/${answer.metadata.runId}`, { apiKey: acme.apiKey })).json();
      expect(completed!.data).toEqual(shown);
      // The receiver has answered; the sender records those answers a moment later.
      await vi.waitFor(async () =>
        expect((await deliveries(acme.apiKey, hook.id)).map((d) => [d.type, d.status, d.attempts, d.lastStatusCode])).toEqual([
          ["run.completed", "delivered", 1, 200],
          ["run.started", "delivered", 1, 200],
        ]), { timeout: 10_000, interval: 50 });
      const log = await deliveries(acme.apiKey, hook.id);
      expect(log.map((d) => d.id).sort()).toEqual(got.map((r) => r.headers["webhook-id"]).sort());
    });

    it("sends approval.requested and approval.resolved for a call that waits for a person, the run as data", async () => {
      real.model.reset();
      real.model.script({ toolCalls: [{ name: "bash", arguments: { command: "echo hooked", description: "say hooked" } }] }, { text: "done after approval" });
      const soylent = await organization("Soylent");
      const hook = await addWebhook(soylent.apiKey, { url: receiver.url("/soylent"), events: ["approval.requested", "approval.resolved", "run.completed"] });
      expect((await nubabel.api("/api/policy", { method: "PUT", apiKey: soylent.apiKey, body: { approvals: [{ match: "bash" }] } })).status).toBe(200);
      const res = await nubabel.api("/api/delegate", { apiKey: soylent.apiKey, body: { prompt: "run it" }, headers: { prefer: "respond-async" } });
      const { runId } = (await res.json()) as { runId: string };
      await vi.waitFor(() => expect(receiver.at("/soylent")).toHaveLength(1), { timeout: 30_000, interval: 50 });
      const [requested] = events(receiver.at("/soylent"));
      expect(requested).toMatchObject({ type: "approval.requested", data: { id: runId, status: "waiting_approval", approvals: [{ tool: "bash", status: "pending" }] } });
      const approvalId = requested!.data.approvals![0]!.id;
      expect((await nubabel.api(`/api/runs/${runId}/approvals/${approvalId}`, { apiKey: soylent.apiKey, body: { decision: "approve" } })).status).toBe(200);
      await vi.waitFor(() => expect(receiver.at("/soylent")).toHaveLength(3), { timeout: 30_000, interval: 50 });
      const all = events(receiver.at("/soylent"));
      const verifier = new Webhook(hook.secret);
      for (const r of receiver.at("/soylent")) expect(() => verifier.verify(r.body, r.headers)).not.toThrow();
      expect(all.map((e) => e.type).sort()).toEqual(["approval.requested", "approval.resolved", "run.completed"]);
      expect(all.find((e) => e.type === "approval.resolved")!.data.approvals![0]).toMatchObject({ id: approvalId, status: "approved", decidedBy: "api" });
      expect(all.find((e) => e.type === "run.completed")!.data).toMatchObject({ id: runId, status: "completed", output: "done after approval" });
      real.model.reset();
    });

    it.runIf(kind === "shared" && hasInfra)("records, at the next start, a run ending that an instance stopped before recording", async () => {
      real.model.respond(() => ({ text: "ended, unrecorded" }));
      const piper = await organization("Pied Piper");
      const hook = await addWebhook(piper.apiKey, { url: receiver.url("/piedpiper"), events: ["run.completed"] });
      // The end is committed; the delivery is not there (as if the instance died in between).
      receiver.on((path) => (path === "/piedpiper" ? 500 : 200));
      const answer = await runToEnd(piper.apiKey, "end me");
      await vi.waitFor(() => expect(receiver.at("/piedpiper").length).toBeGreaterThan(0), { timeout: 10_000, interval: 50 });
      await nubabel.close();
      const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
      await db.connect();
      try {
        await db.query("delete from webhook_deliveries where run_id = $1", [answer.metadata.runId]);
      } finally {
        await db.end();
      }
      receiver.on(() => 200);
      const before = receiver.at("/piedpiper").length;
      nubabel = await startTestNubabel(env());
      await vi.waitFor(() => expect(receiver.at("/piedpiper").slice(before).map((r) => r.answered)).toEqual([200]), { timeout: 15_000, interval: 50 });
      const [event] = events(receiver.at("/piedpiper").slice(before));
      expect(event).toMatchObject({ type: "run.completed", data: { id: answer.metadata.runId, output: "ended, unrecorded" } });
      expect(() => new Webhook(hook.secret).verify(receiver.at("/piedpiper").at(-1)!.body, receiver.at("/piedpiper").at(-1)!.headers)).not.toThrow();
    });

    it("retries a 500 with backoff, the same webhook-id each time, then stops at the 200", async () => {
      real.model.respond(() => ({ text: "retried" }));
      const initech = await organization("Initech");
      receiver.on((path, n) => (path === "/initech" && n < 2 ? 500 : 200));
      const hook = await addWebhook(initech.apiKey, { url: receiver.url("/initech"), events: ["run.completed"] });
      await runToEnd(initech.apiKey, "retry me");
      await vi.waitFor(() => expect(receiver.at("/initech").map((r) => r.answered)).toEqual([500, 500, 200]), { timeout: 30_000, interval: 50 });
      const got = receiver.at("/initech");
      expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(1);
      expect(got[1]!.at - got[0]!.at).toBeGreaterThan(0);
      expect(got[2]!.at - got[1]!.at).toBeGreaterThan(0);
      const verifier = new Webhook(hook.secret);
      for (const r of got) expect(() => verifier.verify(r.body, r.headers)).not.toThrow();
      // The receiver has answered; the sender records that answer a moment later.
      await vi.waitFor(async () => {
        const [log] = await deliveries(initech.apiKey, hook.id);
        expect(log).toMatchObject({ status: "delivered", attempts: 3, lastStatusCode: 200, lastResponse: "ok" });
      }, { timeout: 10_000, interval: 50 });
      receiver.on(() => 200);
    });

    it("signs with the new secret after a rotation, and with the old one too during the overlap", async () => {
      real.model.respond(() => ({ text: "rotated" }));
      const hooli = await organization("Hooli");
      const hook = await addWebhook(hooli.apiKey, { url: receiver.url("/hooli"), events: ["run.completed"] });
      const res = await nubabel.api(`/api/webhooks/${hook.id}/rotate-secret`, { apiKey: hooli.apiKey, method: "POST" });
      expect(res.status).toBe(200);
      const rotated = WebhookSecretRotated.parse(await res.json());
      expect(rotated.secret).not.toBe(hook.secret);
      expect(new Date(rotated.previousSecretExpiresAt).getTime() - Date.now()).toBeGreaterThan(23 * 3_600_000);
      await runToEnd(hooli.apiKey, "after rotation");
      await vi.waitFor(() => expect(receiver.at("/hooli")).toHaveLength(1), { timeout: 10_000, interval: 50 });
      const [r] = receiver.at("/hooli");
      expect(r!.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
      expect(() => new Webhook(rotated.secret).verify(r!.body, r!.headers)).not.toThrow();
      expect(() => new Webhook(hook.secret).verify(r!.body, r!.headers)).not.toThrow();
      const shown = WebhookEndpoint.parse(await (await nubabel.api(`/api/webhooks/${hook.id}`, { apiKey: hooli.apiKey })).json());
      expect(shown.previousSecretExpiresAt).toBe(rotated.previousSecretExpiresAt);
    });

    it("shows another organization none of the endpoints or deliveries (404 for their ids)", async () => {
      const owner = await organization("Owner");
      const other = await organization("Other");
      const hook = await addWebhook(owner.apiKey, { url: receiver.url("/owner") });
      await runToEnd(owner.apiKey, "mine");
      await vi.waitFor(async () => expect((await deliveries(owner.apiKey, hook.id)).length).toBeGreaterThan(0), { timeout: 10_000, interval: 50 });
      const [delivery] = await deliveries(owner.apiKey, hook.id);
      const list = (await (await nubabel.api("/api/webhooks", { apiKey: other.apiKey })).json()) as { webhooks: unknown[] };
      expect(list.webhooks).toEqual([]);
      const asOther = (path: string, init: { method?: string; body?: unknown } = {}) => nubabel.api(path, { ...init, apiKey: other.apiKey });
      const statuses = [
        (await asOther(`/api/webhooks/${hook.id}`)).status,
        (await asOther(`/api/webhooks/${hook.id}`, { method: "PATCH", body: { enabled: false } })).status,
        (await asOther(`/api/webhooks/${hook.id}/rotate-secret`, { method: "POST" })).status,
        (await asOther(`/api/webhooks/${hook.id}/deliveries`)).status,
        (await asOther(`/api/webhooks/${hook.id}/deliveries/${delivery!.id}/retry`, { method: "POST" })).status,
        (await asOther(`/api/webhooks/${hook.id}`, { method: "DELETE" })).status,
      ];
      expect(statuses).toEqual([404, 404, 404, 404, 404, 404]);
      expect((await nubabel.api(`/api/webhooks/${hook.id}`, { apiKey: owner.apiKey })).status).toBe(200);
    });

    it("retries a delivery by hand from the log", async () => {
      const owner = await organization("Retrier");
      const hook = await addWebhook(owner.apiKey, { url: receiver.url("/retrier"), events: ["run.completed"] });
      await runToEnd(owner.apiKey, "again");
      await vi.waitFor(() => expect(receiver.at("/retrier")).toHaveLength(1), { timeout: 10_000, interval: 50 });
      const [delivery] = await deliveries(owner.apiKey, hook.id);
      const res = await nubabel.api(`/api/webhooks/${hook.id}/deliveries/${delivery!.id}/retry`, { apiKey: owner.apiKey, method: "POST" });
      expect(res.status).toBe(202);
      await vi.waitFor(() => expect(receiver.at("/retrier")).toHaveLength(2), { timeout: 10_000, interval: 50 });
      expect(receiver.at("/retrier").map((r) => r.headers["webhook-id"])).toEqual([delivery!.id, delivery!.id]);
    });

    it("delivers what was pending when Nubabel stopped mid-retry, once each, after it starts again", async () => {
      real.model.respond(() => ({ text: "survives" }));
      const umbrella = await organization("Umbrella");
      receiver.on((path) => (path === "/umbrella" ? 503 : 200));
      const hook = await addWebhook(umbrella.apiKey, { url: receiver.url("/umbrella") });
      for (const prompt of ["one", "two"]) await runToEnd(umbrella.apiKey, prompt);
      // Every event failed at least once and waits for its retry.
      await vi.waitFor(async () => {
        const log = await deliveries(umbrella.apiKey, hook.id);
        expect(log).toHaveLength(6);
        expect(log.every((d) => d.status === "pending")).toBe(true);
        expect(receiver.at("/umbrella").length).toBeGreaterThanOrEqual(2);
      }, { timeout: 10_000, interval: 50 });
      await nubabel.close();
      receiver.on(() => 200);
      const before = receiver.at("/umbrella").length;
      nubabel = await startTestNubabel(env());
      // On shared storage a second instance sends too: the two never send one delivery at once.
      const second = backend.kind === "shared" ? await startTestNubabel(env({ NUBABEL_PORT: "0" })) : undefined;
      await vi.waitFor(async () => {
        const log = await deliveries(umbrella.apiKey, hook.id);
        expect(log.every((d) => d.status === "delivered")).toBe(true);
      }, { timeout: 20_000, interval: 100 });
      await second?.close();
      const log = await deliveries(umbrella.apiKey, hook.id);
      const ok = receiver.at("/umbrella").filter((r) => r.answered === 200);
      expect(receiver.at("/umbrella").length).toBeGreaterThan(before);
      expect(ok.map((r) => r.headers["webhook-id"]).sort()).toEqual(log.map((d) => d.id).sort());
      // In order per run: queued, started, then the end.
      for (const runId of new Set(events(ok).map((e) => e.data.id))) {
        expect(events(ok).filter((e) => e.data.id === runId).map((e) => e.type)).toEqual(["run.queued", "run.started", "run.completed"]);
      }
    });

    it.runIf(kind === "shared" && hasInfra)("delivers, once each, what a Nubabel killed with SIGKILL left pending", async () => {
      real.model.respond(() => ({ text: "after a crash" }));
      const tyrell = await organization("Tyrell");
      receiver.on((path) => (path === "/tyrell" ? 503 : 200));
      await nubabel.close();
      const child = startService("nubabel", { ...env(), LOG_LEVEL: "warn", NUBABEL_HOST: "127.0.0.1" });
      try {
        await waitHealthy(`http://127.0.0.1:${real.nubabelPort}/health`, child);
        const api = (path: string, body?: unknown) =>
          fetch(`http://127.0.0.1:${real.nubabelPort}${path}`, {
            method: body === undefined ? "GET" : "POST",
            headers: { authorization: `Bearer ${tyrell.apiKey}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          });
        const hook = WebhookEndpointCreated.parse(await (await api("/api/webhooks", { url: receiver.url("/tyrell") })).json());
        expect((await api("/api/delegate", { prompt: "crash" })).status).toBe(200);
        await vi.waitFor(async () => {
          const log = WebhookDeliveryList.parse(await (await api(`/api/webhooks/${hook.id}/deliveries`)).json()).deliveries;
          // The run's later events wait behind its first, which keeps failing.
          expect(log.map((d) => d.status)).toEqual(["pending", "pending", "pending"]);
          expect(receiver.at("/tyrell").length).toBeGreaterThanOrEqual(2);
        }, { timeout: 10_000, interval: 50 });
        await child.kill();
      } finally {
        await child.kill();
      }
      receiver.on(() => 200);
      nubabel = await startTestNubabel(env());
      const [hook] = (await (await nubabel.api("/api/webhooks", { apiKey: tyrell.apiKey })).json() as { webhooks: Array<{ id: string }> }).webhooks;
      // An attempt cut by the kill keeps its lease (the timeout plus 10 s) before it is sent again.
      await vi.waitFor(async () => expect((await deliveries(tyrell.apiKey, hook!.id)).map((d) => d.status)).toEqual(["delivered", "delivered", "delivered"]), {
        timeout: 30_000,
        interval: 100,
      });
      const ok = receiver.at("/tyrell").filter((r) => r.answered === 200);
      expect(ok.map((r) => r.headers["webhook-id"]).sort()).toEqual((await deliveries(tyrell.apiKey, hook!.id)).map((d) => d.id).sort());
      expect(events(ok).map((e) => e.type)).toEqual(["run.queued", "run.started", "run.completed"]);
    }, 120_000);

    it("refuses loopback, private and metadata URLs (400 saying why), and does not deliver to a name that resolves to one", async () => {
      const wayne = await organization("Wayne");
      // Saved while the operator allowed private URLs; then the instance restarts without that.
      const hook = await addWebhook(wayne.apiKey, { url: `http://localhost:${receiver.port}/wayne`, events: ["run.completed"] });
      await nubabel.close();
      nubabel = await startTestNubabel(env({ NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS: "false" }));
      for (const [url, why] of [
        ["http://127.0.0.1:9/x", "loopback"],
        ["http://10.1.2.3/x", "private address"],
        ["http://[::1]/x", "loopback"],
        ["http://169.254.169.254/latest/meta-data", "link-local address (169.254.0.0/16, where cloud metadata lives)"],
        ["http://localhost:9/x", "loopback name"],
      ] as const) {
        const res = await nubabel.api("/api/webhooks", { apiKey: wayne.apiKey, body: { url } });
        const body = (await res.json()) as { error: { code: string; message: string; details: { field: string; reason: string } } };
        expect([url, res.status, body.error.code, body.error.details.field]).toEqual([url, 400, "invalid_request", "url"]);
        expect(body.error.message).toContain(why);
      }
      real.model.respond(() => ({ text: "never delivered" }));
      await runToEnd(wayne.apiKey, "to localhost?");
      await vi.waitFor(async () => {
        const [delivery] = await deliveries(wayne.apiKey, hook.id);
        expect(delivery?.attempts).toBeGreaterThanOrEqual(1);
        expect(delivery?.lastError).toMatch(/loopback/);
      }, { timeout: 10_000, interval: 50 });
      expect(receiver.at("/wayne")).toEqual([]);
    });
  });
}
