import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { Connection } from "@nubabel/contracts";
import { ConfigError, parseEnv } from "../../src/config/env.js";
import { backendEnv, hasInfra, tempDir } from "../fixtures/backends.js";
import { nubabelCli as nubabel } from "../fixtures/cli.js";
import { startTestNubabel, testSecrets } from "../fixtures/nubabel.js";
import { createOrganization } from "../fixtures/organizations.js";

// Every case runs the real command several times, each opening (and migrating) PGlite: on a busy
// two-core machine that alone takes most of a minute.
vi.setConfig({ testTimeout: 150_000 });



describe("encryption keys and connections from the command line", () => {
  it("keys generate prints 32 random bytes and the variable's value", async () => {
    const { code, stdout } = await nubabel(["keys", "generate", "--id", "prod2"], {});
    expect(code).toBe(0);
    const out = JSON.parse(stdout) as { keyId: string; key: string; NUBABEL_ENCRYPTION_KEY: string };
    expect(out.keyId).toBe("prod2");
    expect(Buffer.from(out.key, "base64")).toHaveLength(32);
    expect(out.NUBABEL_ENCRYPTION_KEY).toBe(`prod2:${out.key}`);
    expect((await nubabel(["keys", "generate", "--id", "bad id"], {})).code).toBe(2);
  });

  it.runIf(hasInfra)("a shared deployment without NUBABEL_ENCRYPTION_KEY stops at start, saying how to make one", async () => {
    const backend = await backendEnv("shared");
    try {
      const { NUBABEL_ENCRYPTION_KEY: _unset, ...secrets } = testSecrets();
      const error = await startTestNubabel({ ...backend.env, ...secrets }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/^NUBABEL_ENCRYPTION_KEY: is required when DATABASE_URL is set.*openssl rand -base64 32/);
      const bad = await startTestNubabel({ ...backend.env, ...secrets, NUBABEL_ENCRYPTION_KEY: "k1:tooshort" }).catch((e: unknown) => e);
      expect((bad as Error).message).toMatch(/^NUBABEL_ENCRYPTION_KEY: entry 1 \(key "k1"\) must be base64 of exactly 32 bytes/);
      expect((bad as Error).message).not.toContain("tooshort");
    } finally {
      await backend.cleanup();
    }
  });

  it.runIf(hasInfra)("a shared deployment without NUBABEL_TOKEN_SECRET stops at start: tokens must verify on every instance", async () => {
    const backend = await backendEnv("shared");
    try {
      const { NUBABEL_TOKEN_SECRET: _unset, ...secrets } = testSecrets();
      const error = await startTestNubabel({ ...backend.env, ...secrets }).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/^NUBABEL_TOKEN_SECRET: is required when DATABASE_URL is set.*openssl rand -base64 32/);
    } finally {
      await backend.cleanup();
    }
  });

  it("the embedded default keeps a development key in the data folder and warns", async () => {
    const data = tempDir();
    const logs: string[] = [];
    const { NUBABEL_ENCRYPTION_KEY: _unset, ...secrets } = testSecrets();
    const server = await startTestNubabel({ ...secrets, NUBABEL_DATA_DIR: data.dir, LOG_LEVEL: "warn" }, { logDestination: { write: (l: string) => void logs.push(l) } });
    try {
      expect(existsSync(path.join(data.dir, "encryption-key"))).toBe(true);
      expect(logs.join("")).toMatch(/NUBABEL_ENCRYPTION_KEY is not set: MCP credentials are encrypted with a development key kept in .*encryption-key \(just created\)/);
    } finally {
      await server.close();
      data.remove();
    }
  });

  it("stops at start when the operator's catalog cannot be read or is invalid, naming the variable and the field", async () => {
    const data = tempDir();
    try {
      const missing = await startTestNubabel({ ...testSecrets(), NUBABEL_DATA_DIR: data.dir, NUBABEL_MCP_CATALOG: path.join(data.dir, "nope.json") }).catch((e: unknown) => e);
      expect((missing as Error).message).toMatch(/^NUBABEL_MCP_CATALOG: cannot read .*nope\.json \(ENOENT\)/);
      const file = path.join(data.dir, "catalog.json");
      writeFileSync(file, JSON.stringify({ providers: { custom: { transport: { type: "http", url: "https://x.example" } } } }));
      const reserved = await startTestNubabel({ ...testSecrets(), NUBABEL_DATA_DIR: data.dir, NUBABEL_MCP_CATALOG: file }).catch((e: unknown) => e);
      expect((reserved as Error).message).toMatch(/^NUBABEL_MCP_CATALOG \(.*catalog\.json\): providers\.custom: /);
    } finally {
      data.remove();
    }
  });

  it("refuses a bad MCP setting, naming the variable", () => {
    expect(() => parseEnv({ SIDECAR_SHARED_SECRET: testSecrets().SIDECAR_SHARED_SECRET, NUBABEL_MCP_ALLOW_PRIVATE_URLS: "yes" })).toThrow(ConfigError);
    expect(() => parseEnv({ SIDECAR_SHARED_SECRET: testSecrets().SIDECAR_SHARED_SECRET, NUBABEL_MCP_CALL_TIMEOUT_MS: "0" })).toThrow(/NUBABEL_MCP_CALL_TIMEOUT_MS/);
  });

  it("connections create/list work on the embedded default with and without a running server; a credential may come from the environment", async () => {
    const data = tempDir();
    const { NUBABEL_ENCRYPTION_KEY: key, ...secrets } = testSecrets();
    const env = { NUBABEL_DATA_DIR: data.dir, NUBABEL_ENCRYPTION_KEY: key };
    try {
      const org = JSON.parse((await nubabel(["org", "create", "--name", "Acme"], env)).stdout) as { organizationId: string };
      const direct = await nubabel(["connections", "create", "--org", org.organizationId, "--provider", "notion", "--credential", "NOTION_TOKEN"], {
        ...env,
        NOTION_TOKEN: "ntn_from_the_environment_1",
      });
      expect(direct.stderr).toBe("");
      expect(Connection.parse(JSON.parse(direct.stdout))).toMatchObject({ provider: "notion", credentials: ["NOTION_TOKEN"] });
      expect(direct.stdout).not.toContain("ntn_from_the_environment_1");

      const server = await startTestNubabel({ ...secrets, ...env });
      try {
        const viaServer = await nubabel(["connections", "create", "--org", org.organizationId, "--provider", "notion", "--name", "second", "--credential", "NOTION_TOKEN=ntn_inline_2"], env);
        expect(viaServer.code).toBe(0);
        const listed = JSON.parse((await nubabel(["connections", "list", "--org", org.organizationId], env)).stdout) as Connection[];
        expect(listed.map((c) => c.name)).toEqual(["notion", "second"]);
        const refused = await nubabel(["connections", "create", "--org", org.organizationId, "--provider", "custom", "--url", "http://10.0.0.1/mcp"], env);
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/transport\.url: host 10\.0\.0\.1 is/);
        const other = await createOrganization(server, "Globex");
        expect(JSON.parse((await nubabel(["connections", "list", "--org", other.organizationId], env)).stdout)).toEqual([]);
      } finally {
        await server.close();
      }
      expect((await nubabel(["connections", "list"], env)).code).toBe(2);
      const nobody = await nubabel(["connections", "create", "--org", "org_doesnotexist", "--provider", "notion", "--credential", "NOTION_TOKEN=ntn_x_1234567"], env);
      expect(nobody).toMatchObject({ code: 1, stderr: "nubabel: no organization org_doesnotexist\n" });
    } finally {
      data.remove();
    }
  });
});
