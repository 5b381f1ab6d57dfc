import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Capabilities, Connection, ConnectionList, ConnectionTools, Webhooks } from "@nubabel/contracts";
import { toNubabel } from "../fixtures/fake-sidecar.js";
import { backendEnv } from "../fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";
import { everything, startHttpServer, type RunningServer } from "./servers.js";

/**
 * `/api/connections` on a running Nubabel (PostgreSQL + Redis, or the embedded default): the
 * lifecycle, isolation between organizations, and every way a definition is refused.
 */
type Body = Record<string, unknown> & { error?: { code: string; message: string; details?: { field?: string; fields?: string[] } } };

for (const kind of ["shared", "embedded"] as const) {
  describe(`/api/connections (${kind})`, () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let nubabel: TestNubabel;
    let acme: { organizationId: string; apiKey: string };
    let globex: { organizationId: string; apiKey: string };

    beforeAll(async () => {
      backend = await backendEnv(kind);
      nubabel = await startTestNubabel({ ...backend.env, ...secrets });
      acme = await createOrganization(nubabel, "Acme");
      globex = await createOrganization(nubabel, "Globex");
    });
    afterAll(async () => {
      await nubabel?.close();
      await backend?.cleanup();
    });

    const call = async (path: string, init: { method?: string; body?: unknown; apiKey?: string } = {}) => {
      const res = await nubabel.api(path, { apiKey: acme.apiKey, ...init });
      return { status: res.status, body: (await res.json()) as Body };
    };

    it("creates, lists, gets, updates and deletes a connection, never showing a credential's value", async () => {
      const token = "ntn_lifecycle_secret_value_1";
      const created = await call("/api/connections", { body: { provider: "notion", credentials: { NOTION_TOKEN: token } } });
      expect(created.status).toBe(201);
      const conn = Connection.parse(created.body);
      expect(conn).toMatchObject({ provider: "notion", name: "notion", enabled: true, credentials: ["NOTION_TOKEN"] });
      expect(conn.id).toMatch(/^conn_/);
      expect(ConnectionList.parse((await call("/api/connections")).body).connections.map((c) => c.id)).toContain(conn.id);
      expect((await call(`/api/connections/${conn.id}`)).body).toEqual(created.body);

      const renamed = await call(`/api/connections/${conn.id}`, { method: "PATCH", body: { name: "team-notion", enabled: false } });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toMatchObject({ name: "team-notion", enabled: false, credentials: ["NOTION_TOKEN"] });

      const sealedBefore = await sealedOf(conn.id);
      const replaced = await call(`/api/connections/${conn.id}`, { method: "PATCH", body: { credentials: { NOTION_TOKEN: "ntn_lifecycle_secret_value_2" } } });
      expect(replaced.status).toBe(200);
      if (sealedBefore !== undefined) {
        const sealedAfter = await sealedOf(conn.id);
        expect(sealedAfter).not.toBe(sealedBefore);
        expect(sealedAfter).toMatch(/^t1:/);
      }
      for (const answer of [created, renamed, replaced]) expect(JSON.stringify(answer.body)).not.toMatch(/ntn_lifecycle_secret_value/);

      // A replaced set of credentials is validated whole: dropping the required one is refused.
      const incomplete = await call(`/api/connections/${conn.id}`, { method: "PATCH", body: { credentials: {} } });
      expect(incomplete).toMatchObject({ status: 400, body: { error: { details: { field: "credentials.NOTION_TOKEN" } } } });

      // Sent as some clients do: labelled JSON, with no body.
      const deleted = await nubabel.api(`/api/connections/${conn.id}`, { method: "DELETE", apiKey: acme.apiKey, headers: { "content-type": "application/json" } });
      expect({ status: deleted.status, body: await deleted.json() }).toEqual({ status: 200, body: { id: conn.id, deleted: true } });
      expect((await call(`/api/connections/${conn.id}`)).status).toBe(404);
      expect((await call(`/api/connections/${conn.id}`, { method: "DELETE" })).status).toBe(404);
    });

    it("another organization's connection is a 404 for every verb, and names are per organization", async () => {
      const mine = await call("/api/connections", { body: { provider: "notion", name: "shared-name", credentials: { NOTION_TOKEN: "ntn_acme_only_secret" } } });
      const id = (mine.body as { id: string }).id;
      const asGlobex = { apiKey: globex.apiKey };
      expect((await call(`/api/connections/${id}`, asGlobex)).body.error?.code).toBe("connection_not_found");
      expect((await call(`/api/connections/${id}`, { ...asGlobex, method: "PATCH", body: { enabled: false } })).status).toBe(404);
      expect((await call(`/api/connections/${id}`, { ...asGlobex, method: "DELETE" })).status).toBe(404);
      expect(ConnectionList.parse((await call("/api/connections", asGlobex)).body).connections).toEqual([]);
      expect((await call(`/api/connections/${id}`)).body).toMatchObject({ enabled: true });
      // Same name in another organization is fine; twice in one is a 409.
      expect((await call("/api/connections", { ...asGlobex, body: { provider: "notion", name: "shared-name", credentials: { NOTION_TOKEN: "ntn_globex_secret" } } })).status).toBe(201);
      const twice = await call("/api/connections", { body: { provider: "notion", name: "shared-name", credentials: { NOTION_TOKEN: "ntn_acme_other" } } });
      expect(twice).toMatchObject({ status: 409, body: { error: { code: "connection_name_taken" } } });
      expect((await call("/api/connections/not-an-id")).status).toBe(404);
      expect((await nubabel.api("/api/connections")).status).toBe(401);
    });

    it.each([
      [{ provider: "jira", credentials: {} }, "provider", /unknown provider "jira"; known: notion, github, custom/],
      [{ provider: "notion", credentials: {} }, "credentials.NOTION_TOKEN", /required by provider "notion"/],
      [{ provider: "notion", credentials: { NOTION_TOKEN: "ntn_x_123456", NODE_OPTIONS: "--require /tmp/evil.js" } }, "credentials.NODE_OPTIONS", /not a credential of "notion"/],
      [{ provider: "notion", credentials: { NOTION_TOKEN: "" } }, "credentials.NOTION_TOKEN", /non-empty/],
      [{ provider: "notion", credentials: { NOTION_TOKEN: 42 } }, "credentials.NOTION_TOKEN", /string/],
      [{ provider: "notion", name: "../etc", credentials: { NOTION_TOKEN: "ntn_x_123456" } }, "name", /letters, digits/],
      [{ provider: "notion", credentials: { NOTION_TOKEN: "ntn_x_123456" }, transport: { type: "http", url: "https://example.com/mcp" } }, "transport", /only "custom"/],
      [{ provider: "custom", credentials: {} }, "transport", /required for "custom"/],
      [{ provider: "custom", credentials: {}, transport: { type: "http", url: "ftp://example.com" } }, "transport.url", /http/],
      [{ provider: "custom", credentials: { Host: "evil" }, transport: { type: "http", url: "https://93.184.215.14/mcp" } }, "credentials.Host", /sets itself/],
      [{ provider: "notion", credentials: { NOTION_TOKEN: "ntn_x_123456" }, colour: "red" }, "colour", /colour/],
    ])("refuses a bad definition with 400 naming the field: %j", async (body, field, why) => {
      const res = await call("/api/connections", { body });
      expect(res.status).toBe(400);
      expect(res.body.error!.code).toBe("invalid_request");
      expect(res.body.error!.details!.fields).toContain(field);
      expect(res.body.error!.message).toMatch(why);
    });

    it.each([
      [{ type: "stdio", command: "sh", args: ["-c", "id"] }, "transport.type", /HTTP only: an organization cannot run a command on Nubabel's host/],
      [{ type: "http", url: "http://127.0.0.1:8080/mcp" }, "transport.url", /host 127\.0\.0\.1 is a loopback/],
      [{ type: "http", url: "http://localhost/mcp" }, "transport.url", /loopback name/],
      [{ type: "http", url: "http://10.1.2.3/mcp" }, "transport.url", /private/],
      [{ type: "http", url: "http://169.254.169.254/latest/meta-data" }, "transport.url", /link-local/],
      [{ type: "http", url: "http://[::1]/mcp" }, "transport.url", /loopback/],
    ])("refuses an organization's custom transport %j (400 saying why)", async (transport, field, why) => {
      const res = await call("/api/connections", { body: { provider: "custom", name: "own", credentials: {}, transport } });
      expect(res.status).toBe(400);
      expect(res.body.error!.details!.field).toBe(field);
      expect(res.body.error!.message).toMatch(why);
      expect(ConnectionList.parse((await call("/api/connections")).body).connections.map((c) => c.name)).not.toContain("own");
    });

    it("a private URL is refused when the URL changes by PATCH too", async () => {
      const created = await call("/api/connections", { body: { provider: "custom", name: "public-one", credentials: {}, transport: { type: "http", url: "https://93.184.215.14/mcp" } } });
      expect(created.status).toBe(201);
      const id = (created.body as { id: string }).id;
      const moved = await call(`/api/connections/${id}`, { method: "PATCH", body: { transport: { type: "http", url: "http://192.168.1.10/mcp" } } });
      expect(moved).toMatchObject({ status: 400, body: { error: { details: { field: "transport.url" } } } });
      expect((await call(`/api/connections/${id}`)).body).toMatchObject({ transport: { url: "https://93.184.215.14/mcp" } });
    });

    describe("when the operator allows private URLs (NUBABEL_MCP_ALLOW_PRIVATE_URLS)", () => {
      let permissive: TestNubabel;
      let server: RunningServer;
      beforeAll(async () => {
        server = await startHttpServer(await everything(), () => ["streamableHttp"]);
        // The same storage, a second instance configured by the operator to allow private networks.
        permissive = await startTestNubabel(
          { ...backend.env, ...secrets, NUBABEL_MCP_ALLOW_PRIVATE_URLS: "true", ...(kind === "embedded" ? { NUBABEL_DATA_DIR: `${backend.env.NUBABEL_DATA_DIR}-permissive` } : {}) },
        );
      });
      afterAll(async () => {
        await permissive?.close();
        await server?.stop();
      });

      it("accepts a loopback custom server and runs its tools over streamable HTTP; stdio stays refused", async () => {
        const org = await createOrganization(permissive, "Initech");
        const res = await permissive.api("/api/connections", {
          apiKey: org.apiKey,
          body: { provider: "custom", name: "local-everything", credentials: { "X-Api-Key": "custom-header-secret" }, transport: { type: "http", url: server.url } },
        });
        expect(res.status).toBe(201);
        const stdio = await permissive.api("/api/connections", { apiKey: org.apiKey, body: { provider: "custom", name: "cmd", credentials: {}, transport: { type: "stdio", command: "sh" } } });
        expect(stdio.status).toBe(400);

        const token = Capabilities.issue(secrets.NUBABEL_TOKEN_SECRET, { aud: "callback", sessionId: "ses-custom", organizationId: org.organizationId, ttlSeconds: 60 });
        const body = JSON.stringify({ provider: "local-everything", toolName: "echo", args: { message: "over http" } });
        const invoked = await fetch(`${permissive.url}/api/sidecar/mcp/invoke`, {
          method: "POST",
          body,
          headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, toNubabel(`${permissive.url}/api/sidecar/mcp/invoke`), body) },
        });
        expect(invoked.status).toBe(200);
        expect(JSON.stringify(await invoked.json())).toContain("Echo: over http");

        // "Test connection": the server's tools now, or why it cannot be reached.
        const id = ((await res.json()) as { id: string }).id;
        const tools = await permissive.api(`/api/connections/${id}/tools`, { apiKey: org.apiKey });
        expect(tools.status).toBe(200);
        expect(ConnectionTools.parse(await tools.json()).tools.map((t) => t.name)).toContain("echo");
        const stranger = await createOrganization(permissive, "Umbrella");
        expect((await permissive.api(`/api/connections/${id}/tools`, { apiKey: stranger.apiKey })).status).toBe(404);
        const dead = await permissive.api("/api/connections", {
          apiKey: org.apiKey,
          body: { provider: "custom", name: "nobody-home", credentials: {}, transport: { type: "http", url: "http://127.0.0.1:1/mcp" } },
        });
        const deadId = ((await dead.json()) as { id: string }).id;
        const unreachable = await permissive.api(`/api/connections/${deadId}/tools`, { apiKey: org.apiKey });
        expect(unreachable.status).toBe(502);
        expect(await unreachable.json()).toMatchObject({ error: { code: "mcp_unavailable", message: expect.stringMatching(/MCP server for "nobody-home" is unavailable/) } });
      });
    });

    /** The stored blob, read straight from PostgreSQL (the embedded database is held by the server). */
    async function sealedOf(id: string): Promise<string | undefined> {
      if (backend.kind !== "shared") return undefined;
      const db = new pg.Client({ connectionString: backend.env.DATABASE_URL });
      await db.connect();
      try {
        return (await db.query<{ sealed_credentials: string }>("select sealed_credentials from mcp_connections where id = $1", [id])).rows[0]?.sealed_credentials;
      } finally {
        await db.end();
      }
    }
  });
}
