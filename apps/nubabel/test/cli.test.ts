import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { StreamToken } from "@nubabel/contracts";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { backendEnv, hasInfra, tempDir } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";

// Every case runs the real command several times, each opening (and migrating) PGlite: on a busy
// two-core machine that alone takes most of a minute.
vi.setConfig({ testTimeout: 150_000 });

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = path.join(root, "node_modules/.bin/nubabel");

/** Runs the installed `nubabel` bin as a person would, from `cwd`, with only `env` configured. */
async function nubabel(args: string[], env: Record<string, string>, cwd = root): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp" };
  try {
    const { stdout, stderr } = await run(bin, args, { cwd, env: { ...base, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout: string; stderr: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout, stderr: e.stderr };
  }
}

const api = (server: TestNubabel, apiKey: string) => server.api("/api/sessions/ses_none", { apiKey });

describe("nubabel CLI", () => {
  it("creates and lists organizations on the embedded default with no server, from any folder", async () => {
    const data = tempDir();
    const elsewhere = tempDir("cwd");
    try {
      const created = await nubabel(["org", "create", "--name", "Acme Corp"], { NUBABEL_DATA_DIR: data.dir }, elsewhere.dir);
      expect(created.stderr).toBe("");
      expect(created.code).toBe(0);
      const org = JSON.parse(created.stdout) as { organizationId: string; apiKey: string };
      expect(org.organizationId).toMatch(/^org_/);
      expect(org.apiKey).toMatch(/^nbk_/);
      const listed = await nubabel(["org", "list"], { NUBABEL_DATA_DIR: data.dir });
      expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ id: org.organizationId, name: "Acme Corp", keys: 1 })]);
      // A lock left by a process that died does not wedge the CLI.
      writeFileSync(path.join(data.dir, "pglite.lock"), "999999");
      writeFileSync(path.join(data.dir, "server.json"), JSON.stringify({ url: "http://127.0.0.1:1", pid: 999999 }));
      expect(JSON.parse((await nubabel(["org", "list"], { NUBABEL_DATA_DIR: data.dir })).stdout)).toHaveLength(1);
    } finally {
      data.remove();
      elsewhere.remove();
    }
  });

  it("refuses bad usage with exit code 2 and says why", async () => {
    const data = tempDir();
    try {
      const noName = await nubabel(["org", "create"], { NUBABEL_DATA_DIR: data.dir });
      expect(noName.code).toBe(2);
      expect(noName.stderr).toMatch(/--name/);
      const unknown = await nubabel(["org", "delete"], { NUBABEL_DATA_DIR: data.dir });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/usage/);
      const noKey = await nubabel(["org", "revoke-key", "--org", "org_abc"], { NUBABEL_DATA_DIR: data.dir });
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toMatch(/--key KEY_ID/);
      const badName = await nubabel(["org", "add-key", "--org", "org_abc", "--name", "x".repeat(101)], { NUBABEL_DATA_DIR: data.dir });
      expect(badName.code).toBe(2);
      expect(badName.stderr).toMatch(/--name/);
      const badOrg = await nubabel(["org", "keys", "--org", "acme"], { NUBABEL_DATA_DIR: data.dir });
      expect(badOrg.code).toBe(2);
      expect(badOrg.stderr).toMatch(/--org ORG/);
      const badEnv = await nubabel(["org", "list"], { NUBABEL_DATA_DIR: data.dir, DATABASE_URL: "not a url" });
      expect(badEnv.code).toBe(2);
      expect(badEnv.stderr).toMatch(/DATABASE_URL/);
    } finally {
      data.remove();
    }
  });

  describe("while the server runs on the embedded default", () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let server: TestNubabel;
    beforeAll(async () => {
      backend = await backendEnv("embedded");
      server = await startTestNubabel({ ...backend.env, ...secrets });
    });
    afterAll(async () => {
      await server?.close();
      await backend?.cleanup();
    });

    it("goes through the server (PGlite is single-process) and the server accepts the new key", async () => {
      expect(server.devOrganization?.created).toBe(true);
      const created = await nubabel(["org", "create", "--name", "Live"], backend.env);
      expect(created.code).toBe(0);
      const { apiKey } = JSON.parse(created.stdout) as { apiKey: string };
      expect((await api(server, apiKey)).status).toBe(404);
      const names = (JSON.parse((await nubabel(["org", "list"], backend.env)).stdout) as Array<{ name: string }>).map((o) => o.name);
      expect(names).toEqual(["Development", "Live"]);
    });

    it("makes, lists and revokes an organization's keys through the server, which honours them at once", async () => {
      const { organizationId, apiKey } = JSON.parse((await nubabel(["org", "create", "--name", "Keyed"], backend.env)).stdout) as { organizationId: string; apiKey: string };
      const added = await nubabel(["org", "add-key", "--org", organizationId, "--name", "ops"], backend.env);
      expect(added.code).toBe(0);
      const made = JSON.parse(added.stdout) as { id: string; apiKey: string; name: string };
      expect(made).toMatchObject({ id: expect.stringMatching(/^key_/), apiKey: expect.stringMatching(/^nbk_/), name: "ops" });
      expect((await api(server, made.apiKey)).status).toBe(404);
      const listed = JSON.parse((await nubabel(["org", "keys", "--org", organizationId], backend.env)).stdout) as Array<{ id: string; prefix: string }>;
      expect(listed.map((k) => k.prefix)).toEqual([apiKey.slice(0, 10), made.apiKey.slice(0, 10)]);
      expect(JSON.stringify(listed)).not.toContain(made.apiKey);
      const revoked = await nubabel(["org", "revoke-key", "--org", organizationId, "--key", listed[0]!.id], backend.env);
      expect(revoked.code).toBe(0);
      expect(JSON.parse(revoked.stdout)).toMatchObject({ id: listed[0]!.id, revokedAt: expect.any(String) });
      expect((await api(server, apiKey)).status).toBe(401);
      const last = await nubabel(["org", "revoke-key", "--org", organizationId, "--key", made.id], backend.env);
      expect(last.code).toBe(1);
      expect(last.stderr).toMatch(/last working API key/);
      for (const args of [["keys"], ["revoke-key", "--key", made.id]]) {
        const elsewhere = await nubabel(["org", args[0]!, "--org", "org_missing", ...args.slice(1)], backend.env);
        expect(elsewhere.code).toBe(1);
        expect(elsewhere.stderr).toMatch(/no organization org_missing/);
      }
    });

    it("refuses a second server on the same embedded database instead of corrupting it", async () => {
      await expect(startTestNubabel({ ...backend.env, ...secrets })).rejects.toThrow(/embedded database is in use by process/);
      expect((await server.api("/livez")).status).toBe(200);
    });

    it("guards the admin endpoint with the data folder's secret", async () => {
      const res = await server.api("/admin/organizations", { body: { name: "Sneaky" }, headers: { authorization: "Bearer guess" } });
      expect(res.status).toBe(401);
      expect((await server.api("/admin/organizations")).status).toBe(401);
    });
  });

  describe.runIf(hasInfra)("while the server runs on PostgreSQL", () => {
    const secrets = testSecrets();
    let backend: Awaited<ReturnType<typeof backendEnv>>;
    let server: TestNubabel;
    beforeAll(async () => {
      backend = await backendEnv("shared");
      // A minute: the server would accept a key revoked in the database for that long, unless told.
      server = await startTestNubabel({ ...backend.env, ...secrets, SETTINGS_CACHE_MS: "60000" });
    });
    afterAll(async () => {
      await server?.close();
      await backend?.cleanup();
    });

    it("writes to the shared database directly and the server accepts the new key", async () => {
      expect(server.devOrganization).toBeUndefined();
      expect((await server.api("/admin/organizations")).status).toBe(404);
      const created = await nubabel(["org", "create", "--name", "Shared"], { DATABASE_URL: backend.env.DATABASE_URL! });
      expect(created.code).toBe(0);
      const { apiKey, organizationId } = JSON.parse(created.stdout) as { apiKey: string; organizationId: string };
      expect((await api(server, apiKey)).status).toBe(404);
      expect((await api(server, `${apiKey}x`)).status).toBe(401);
      const listed = JSON.parse((await nubabel(["org", "list"], { DATABASE_URL: backend.env.DATABASE_URL! })).stdout) as Array<{ id: string }>;
      expect(listed.map((o) => o.id)).toEqual([organizationId]);
    });

    it("revokes a key in the database and tells the running server over Redis, which refuses it at once", async () => {
      const env = { DATABASE_URL: backend.env.DATABASE_URL!, REDIS_URL: backend.env.REDIS_URL!, REDIS_KEY_PREFIX: backend.env.REDIS_KEY_PREFIX! };
      const { apiKey, organizationId } = JSON.parse((await nubabel(["org", "create", "--name", "Leaked"], env)).stdout) as { apiKey: string; organizationId: string };
      const spare = JSON.parse((await nubabel(["org", "add-key", "--org", organizationId], env)).stdout) as { id: string; apiKey: string };
      // The server finds both keys, and keeps them, as it keeps a stream token's key once a stream opened with it.
      expect((await api(server, apiKey)).status).toBe(404);
      expect((await api(server, spare.apiKey)).status).toBe(404);
      const streamToken = (await (await server.api("/api/sessions/ses_cli/stream-token", { apiKey, method: "POST" })).json()) as StreamToken;
      const openedWithToken = async () => {
        const res = await fetch(`${server.url}${streamToken.url}`, { signal: AbortSignal.timeout(5_000) });
        await res.body?.cancel();
        return res.status;
      };
      expect(await openedWithToken()).toBe(200);
      const [leaked] = JSON.parse((await nubabel(["org", "keys", "--org", organizationId], env)).stdout) as Array<{ id: string }>;
      expect((await nubabel(["org", "revoke-key", "--org", organizationId, "--key", leaked!.id], env)).code).toBe(0);
      await vi.waitFor(async () => expect((await api(server, apiKey)).status).toBe(401), { timeout: 3_000, interval: 50 });
      await vi.waitFor(async () => expect(await openedWithToken()).toBe(401), { timeout: 3_000, interval: 50 });
      expect((await api(server, spare.apiKey)).status).toBe(404);
      const audit = (await (await server.api("/api/audit", { apiKey: spare.apiKey })).json()) as { entries: Array<{ kind: string; action: string; actor: string }> };
      expect(audit.entries.filter((e) => e.kind === "api_key").map((e) => [e.action, e.actor])).toEqual([["create", "operator"], ["revoke", "operator"]]);

      // Without Redis the servers cannot be told: revoked all the same, and the operator hears so.
      const other = JSON.parse((await nubabel(["org", "add-key", "--org", organizationId], env)).stdout) as { id: string; apiKey: string };
      const alone = await nubabel(["org", "revoke-key", "--org", organizationId, "--key", spare.id], { DATABASE_URL: env.DATABASE_URL });
      expect(alone.code).toBe(0);
      expect(JSON.parse(alone.stdout)).toMatchObject({ id: spare.id, revokedAt: expect.any(String) });
      expect(alone.stdout).not.toContain("serversTold");
      expect(alone.stderr).toMatch(/could not be told.*SETTINGS_CACHE_MS/);
      expect((await api(server, other.apiKey)).status).toBe(404);
    });
  });
});
