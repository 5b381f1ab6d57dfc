import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiRun, AuditPage, Capabilities, Webhooks, type AuditEntry } from "@nubabel/contracts";
import { withMcpAdmin } from "../../src/cli/mcp-client.js";
import { parseEnv } from "../../src/config/env.js";
import { PgWebhookStore } from "../../src/adapters/postgres/webhook-store.js";
import { Keyring } from "../../src/crypto/index.js";
import { openPostgres } from "../../src/db/database.js";
import { openSecret, sealSecret } from "../../src/webhooks/endpoints.js";
import { backendEnv, hasInfra } from "../fixtures/backends.js";
import { startFakeSidecar, toNubabel, type FakeSidecar } from "../fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { everything } from "../mcp/servers.js";

vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

/**
 * Issue 14's audit trail on a running Nubabel with PostgreSQL and Redis: tool calls through the
 * sidecar's `/api/sidecar/mcp/invoke` on a registry MCP server (`server-everything` over stdio),
 * connection changes, a key rotation, and what `GET /api/audit` shows of them to whom.
 */
describe.runIf(hasInfra)("the audit trail (PostgreSQL + Redis)", () => {
  const secrets = testSecrets();
  const secret = `evsecret_${randomBytes(16).toString("hex")}`;
  const marker = `argmarker_${randomBytes(8).toString("hex")}`;
  const sessionId = "audit-thread-1";
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;
  let acme: { organizationId: string; apiKey: string };
  let globex: { organizationId: string; apiKey: string };
  let runId: string;
  const bodies: string[] = [];

  const audit = async (query: Record<string, string | number> = {}, apiKey = acme.apiKey) => {
    const qs = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString();
    const res = await nubabel.api(`/api/audit${qs ? `?${qs}` : ""}`, { apiKey });
    const text = await res.text();
    bodies.push(text);
    return { status: res.status, body: JSON.parse(text) as AuditPage & { error?: { code: string; message: string; details?: { fields?: string[] } } } };
  };

  /** Every entry, following the cursor page by page. */
  const everyEntry = async (query: Record<string, string | number> = {}, apiKey = acme.apiKey): Promise<AuditEntry[]> => {
    const out: AuditEntry[] = [];
    let cursor: string | undefined;
    do {
      const { status, body } = await audit({ ...query, ...(cursor ? { cursor } : {}) }, apiKey);
      expect(status).toBe(200);
      out.push(...AuditPage.parse(body).entries);
      cursor = body.nextCursor;
    } while (cursor);
    return out;
  };

  /** A tool call as the sidecar makes it: signed, with the session's capability token. */
  const invoke = async (session: string, body: Record<string, unknown>, org = acme.organizationId) => {
    const token = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: session, organizationId: org, ttlSeconds: 60 });
    const raw = JSON.stringify(body);
    const url = `${nubabel.url}/api/sidecar/mcp/invoke`;
    const res = await fetch(url, {
      method: "POST",
      body: raw,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(url), raw) },
    });
    return { status: res.status, body: (await res.json()) as { isError?: boolean } };
  };

  const rawRows = async (): Promise<string> => {
    const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
    await db.connect();
    try {
      return JSON.stringify((await db.query("select * from audit_events order by seq")).rows);
    } finally {
      await db.end();
    }
  };

  beforeAll(async () => {
    backend = await backendEnv("shared");
    // Turns last a minute: the session's run is running while its tools are called.
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET, turnDelayMs: 60_000 });
    const catalog = path.join(backend.env.NUBABEL_DATA_DIR!, "catalog.json");
    writeFileSync(
      catalog,
      JSON.stringify({
        providers: { everything: { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["EVERYTHING_TOKEN"] } },
      }),
    );
    // Private webhook URLs: an endpoint on 127.0.0.1 needs no DNS (it is never sent anything here).
    nubabel = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, NUBABEL_MCP_CATALOG: catalog, NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS: "true" });
    acme = await createOrganization(nubabel, "Acme");
    globex = await createOrganization(nubabel, "Globex");
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await backend?.cleanup();
  });

  it("records connection changes by the API key", async () => {
    const created = await nubabel.api("/api/connections", { apiKey: acme.apiKey, body: { provider: "everything", credentials: { EVERYTHING_TOKEN: secret } } });
    expect(created.status).toBe(201);
    const scratch = (await (await nubabel.api("/api/connections", { apiKey: acme.apiKey, body: { provider: "everything", name: "scratch", credentials: { EVERYTHING_TOKEN: `${secret}-2` } } })).json()) as { id: string };
    expect((await nubabel.api(`/api/connections/${scratch.id}`, { method: "PATCH", apiKey: acme.apiKey, body: { enabled: false } })).status).toBe(200);
    expect((await nubabel.api(`/api/connections/${scratch.id}`, { method: "DELETE", apiKey: acme.apiKey })).status).toBe(200);

    const changes = (await everyEntry()).filter((e) => e.kind === "connection");
    expect(changes.map((e) => [e.action, e.provider, e.actor, e.status])).toEqual([
      ["create", "everything", "api", "ok"],
      ["create", "scratch", "api", "ok"],
      ["update", "scratch", "api", "ok"],
      ["delete", "scratch", "api", "ok"],
    ]);
    expect(changes[2]).toMatchObject({ connectionId: scratch.id, detail: "disabled" });
  });

  it("records every tool call of a session with its run, outcome and duration, oldest first", async () => {
    const accepted = await nubabel.api("/api/delegate", { apiKey: acme.apiKey, body: { prompt: "use the tools", sessionId }, headers: { prefer: "respond-async" } });
    runId = ((await accepted.json()) as { runId: string }).runId;
    await vi.waitFor(async () => expect(ApiRun.parse(await (await nubabel.api(`/api/runs/${runId}`, { apiKey: acme.apiKey })).json()).status).toBe("running"), { timeout: 20_000 });

    const ok = await invoke(sessionId, { provider: "everything", toolName: "echo", args: { message: marker } });
    expect(ok).toMatchObject({ status: 200, body: { isError: false } });
    // The tool's own failure (a tool's error text may quote its arguments), then two the gateway refuses.
    const failed = await invoke(sessionId, { provider: "everything", toolName: "get-sum", args: { a: marker, b: 1 } });
    expect(failed).toMatchObject({ status: 200, body: { isError: true } });
    expect((await invoke(sessionId, { provider: "everything", toolName: "no-such-tool", args: { message: marker } })).status).toBe(404);
    expect((await invoke(sessionId, { provider: "nowhere", toolName: "echo", args: { message: marker } })).status).toBe(404);
    // Another session of the organization, with no run: its call is listed without one.
    expect((await invoke("audit-thread-2", { provider: "everything", toolName: "echo", args: { message: marker } })).status).toBe(200);

    const calls = await everyEntry({ sessionId });
    expect(calls.map((e) => [e.kind, e.actor, e.action, e.tool, e.provider, e.status])).toEqual([
      ["tool_call", "agent", "invoke", "echo", "everything", "ok"],
      ["tool_call", "agent", "invoke", "get-sum", "everything", "error"],
      ["tool_call", "agent", "invoke", "no-such-tool", "everything", "error"],
      ["tool_call", "agent", "invoke", "echo", "nowhere", "error"],
    ]);
    for (const call of calls) {
      expect(call).toMatchObject({ sessionId, runId, durationMs: expect.any(Number) });
    }
    expect(calls[0]!.connectionId).toMatch(/^conn_/);
    expect(calls[0]!.detail).toBeUndefined();
    expect(calls[1]!.detail).toBe("the tool reported an error");
    expect(calls[2]!.detail).toMatch(/^provider "everything" has no tool "no-such-tool"/);
    expect(calls[3]!.detail).toMatch(/no enabled MCP connection for provider "nowhere"/);
    expect(calls[3]!.connectionId).toBeUndefined();
    expect(calls.map((c) => Date.parse(c.at))).toEqual(calls.map((c) => Date.parse(c.at)).sort((a, b) => a - b));

    expect((await everyEntry({ runId })).map((e) => e.id)).toEqual(calls.map((e) => e.id));
    const other = await everyEntry({ sessionId: "audit-thread-2" });
    expect(other).toHaveLength(1);
    expect(other[0]!.runId).toBeUndefined();

    await nubabel.api(`/api/runs/${runId}/abort`, { method: "POST", apiKey: acme.apiKey });
  });

  it("pages with a cursor, each entry once, bounded by limit; a bad query is a 400 naming the field", async () => {
    const whole = await everyEntry();
    expect(whole.length).toBeGreaterThanOrEqual(9);
    const paged = await everyEntry({ limit: 3 });
    expect(paged.map((e) => e.id)).toEqual(whole.map((e) => e.id));
    expect(new Set(paged.map((e) => e.id)).size).toBe(paged.length);
    const first = await audit({ limit: 2 });
    expect(first.body.entries).toHaveLength(2);
    expect(first.body.nextCursor).toEqual(expect.any(String));

    const from = whole[4]!.at;
    expect((await everyEntry({ from })).map((e) => e.id)).toEqual(whole.filter((e) => e.at >= from).map((e) => e.id));
    expect((await everyEntry({ to: from })).map((e) => e.id)).toEqual(whole.filter((e) => e.at < from).map((e) => e.id));

    for (const [query, field] of [
      [{ limit: 501 }, "limit"],
      [{ limit: 0 }, "limit"],
      [{ from: "yesterday" }, "from"],
      [{ runId: "not-a-run" }, "runId"],
      [{ cursor: "bogus" }, "cursor"],
    ] as const) {
      const bad = await audit(query);
      expect(bad.status, JSON.stringify(query)).toBe(400);
      expect(bad.body.error).toMatchObject({ code: "invalid_request", details: { fields: expect.arrayContaining([field]) } });
    }
    // An unknown parameter is refused too, named as the field at fault.
    const unknown = await audit({ colour: "blue" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error?.message).toContain("colour");
    expect(unknown.body.error?.details?.fields).toEqual(["colour"]);
    // A parameter given twice arrives as a list: said so, not "expected number, received NaN".
    const twice = await nubabel.api("/api/audit?limit=1&limit=2", { apiKey: acme.apiKey });
    expect(twice.status).toBe(400);
    expect(((await twice.json()) as { error: unknown }).error).toEqual({ code: "invalid_request", message: "invalid query: limit: must be given once", details: { fields: ["limit"] } });
    expect((await audit({ limit: "ten" })).body.error?.message).toBe("invalid query: limit: must be a whole number from 1 to 500");
    expect((await nubabel.api("/api/audit")).status).toBe(401);
  });

  it("records a key rotation by the operator, one entry per organization touched; webhook secrets are re-encrypted too", async () => {
    await nubabel.api("/api/connections", { apiKey: globex.apiKey, body: { provider: "everything", name: "globex-tools", credentials: { EVERYTHING_TOKEN: `${secret}-globex` } } });
    // A Globex endpoint in its 24-hour overlap: a current and a previous secret, both sealed under the old key.
    const database = await openPostgres(backend.env.DATABASE_URL!);
    const store = new PgWebhookStore(database.db);
    const oldKeys = Keyring.parse(secrets.NUBABEL_ENCRYPTION_KEY);
    const [first, second] = [Webhooks.generateSecret(), Webhooks.generateSecret()];
    const endpointId = "wh_rotationcheck0001";
    try {
      await store.create({ id: endpointId, organizationId: globex.organizationId, url: "https://hooks.example.com/globex", events: ["run.completed"], enabled: true, secret: sealSecret(oldKeys, endpointId, first) });
      await store.rotate(globex.organizationId, endpointId, sealSecret(oldKeys, endpointId, second), new Date(Date.now() + 3_600_000));
      const newKey = `k2:${Keyring.generateKey()}`;
      const env = parseEnv({ ...backend.env, ...secrets, NUBABEL_ENCRYPTION_KEY: `${newKey},${secrets.NUBABEL_ENCRYPTION_KEY}` });
      const report = await withMcpAdmin(env, (api) => api.rotate());
      expect(report).toMatchObject({ keyId: "k2", rotated: 4, skipped: 0 });
      const rotations = async (org: { apiKey: string }) => (await everyEntry({}, org.apiKey)).filter((e) => e.kind === "key_rotation");
      expect(await rotations(acme)).toEqual([expect.objectContaining({ actor: "operator", action: "rotate", status: "ok", detail: "1 connection re-encrypted under key k2" })]);
      expect(await rotations(globex)).toEqual([expect.objectContaining({ actor: "operator", action: "rotate", status: "ok", detail: "1 connection and 2 webhook secrets re-encrypted under key k2" })]);
      // The old key can go now: the new one alone opens both secrets.
      const stored = (await store.get(globex.organizationId, endpointId))!;
      const newOnly = Keyring.parse(newKey);
      expect([openSecret(newOnly, endpointId, stored.secret), openSecret(newOnly, endpointId, stored.previousSecret!)]).toEqual([second, first]);
      expect((await withMcpAdmin(env, (api) => api.rotate())).rotated).toBe(0);
    } finally {
      await store.remove(globex.organizationId, endpointId);
      await database.close();
    }
  });

  it("shows an organization its own entries only, whatever it filters by", async () => {
    const mine = await everyEntry({}, globex.apiKey);
    expect(mine.map((e) => [e.kind, e.action])).toEqual([
      ["connection", "create"],
      ["key_rotation", "rotate"],
    ]);
    expect(await everyEntry({ sessionId }, globex.apiKey)).toEqual([]);
    expect(await everyEntry({ runId }, globex.apiKey)).toEqual([]);
    // Acme's cursor names a position, not a right: Globex still sees only its own.
    const acmeCursor = (await audit({ limit: 1 })).body.nextCursor!;
    expect((await audit({ cursor: acmeCursor }, globex.apiKey)).body.entries.every((e) => mine.some((m) => m.id === e.id))).toBe(true);
  });

  it("records policy, budget and webhook changes by the API key, never a signing secret or a URL's path", async () => {
    const token = `hooktoken_${randomBytes(8).toString("hex")}`;
    const call = async (method: string, path: string, body?: unknown) => {
      const res = await nubabel.api(path, { method, apiKey: acme.apiKey, ...(body === undefined ? {} : { body }) });
      expect(res.status, `${method} ${path}`).toBeLessThan(300);
      return res.json() as Promise<Record<string, string>>;
    };
    await call("PUT", "/api/policy", { approvals: [{ match: "bash" }, { match: "everything/*", approvers: ["U0123ABC"] }], timeoutSeconds: 120 });
    await call("PUT", "/api/budget", { monthlyCost: 50, warnAtPercent: 80 });
    await call("DELETE", "/api/budget");
    // A second reset removes nothing, and records nothing.
    await call("DELETE", "/api/budget");
    // Such URLs are often credentials themselves: the path and query are never recorded.
    const hook = await call("POST", "/api/webhooks", { url: `http://127.0.0.1:9/hooks/${token}?key=${token}`, events: ["run.completed", "run.failed"] });
    await call("PATCH", `/api/webhooks/${hook.id}`, { enabled: false, url: `http://localhost:9/other/${token}` });
    const rotated = await call("POST", `/api/webhooks/${hook.id}/rotate-secret`);
    await call("DELETE", `/api/webhooks/${hook.id}`);

    const changes = (await everyEntry()).filter((e) => ["policy", "budget", "webhook"].includes(e.kind));
    expect(changes.map((e) => [e.kind, e.action, e.actor, e.status, e.detail])).toEqual([
      ["policy", "update", "api", "ok", "version 1: approval for bash, everything/*; timeout 120 s"],
      ["budget", "update", "api", "ok", "monthly cost 50, warn at 80%"],
      ["budget", "delete", "api", "ok", "the operator's default applies again"],
      ["webhook", "create", "api", "ok", `${hook.id} to 127.0.0.1:9, events run.completed, run.failed`],
      ["webhook", "update", "api", "ok", `${hook.id}: url to localhost:9, disabled`],
      ["webhook", "rotate", "api", "ok", `${hook.id}: new signing secret; the previous one signs until ${rotated.previousSecretExpiresAt}`],
      ["webhook", "delete", "api", "ok", hook.id],
    ]);
    const recorded = JSON.stringify(changes) + bodies.join("\n") + (await rawRows());
    for (const secret of [hook.secret!, rotated.secret!, token]) expect(recorded).not.toContain(secret);
    expect((await everyEntry({}, globex.apiKey)).filter((e) => ["policy", "budget", "webhook"].includes(e.kind))).toEqual([]);
  });

  it("never holds a credential or a tool call's arguments, in the API or in the table", async () => {
    const everything = JSON.stringify(await everyEntry()) + bodies.join("\n") + (await rawRows());
    expect(everything).toContain("echo");
    expect(everything).not.toContain(secret);
    expect(everything).not.toContain(marker);
  });
});
