import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
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
      server = await startTestNubabel({ ...backend.env, ...secrets });
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
  });
});
