import { randomBytes } from "node:crypto";
import { McpInvokeResponse, McpListResponse } from "@nubabel/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Keyring, Rotation, SealedCredentials } from "../../src/crypto/index.js";
import type { Catalog } from "../../src/mcp/catalog.js";
import type { StoredConnection } from "../../src/mcp/connection-store.js";
import { McpProviderNotFoundError, McpToolNotFoundError } from "../../src/mcp/errors.js";
import { createMcpGateway, type OrganizationMcp } from "../../src/mcp/gateway.js";
import { MemoryConnectionStore } from "../../src/mcp/memory-connection-store.js";
import type { McpPool } from "../../src/mcp/pool.js";
import { everything, notion, startFakeNotionApi, startHttpServer, testPool, textOf, type RunningServer } from "./servers.js";

const orgA = "org_a1";
const orgB = "org_b2";
const orgC = "org_c3";
const tokenA = `a_${randomBytes(12).toString("hex")}`;
const tokenB = `b_${randomBytes(12).toString("hex")}`;
const notionA = `ntn_a${randomBytes(12).toString("hex")}`;
const notionB = `ntn_b${randomBytes(12).toString("hex")}`;
let api: Awaited<ReturnType<typeof startFakeNotionApi>>;

let keyring = Keyring.parse(`k1:${Keyring.generateKey()}`);
const store = new MemoryConnectionStore();
let catalog: Catalog;
let pool: McpPool;
let httpServer: RunningServer;
let gateway: OrganizationMcp;

function row(id: string, organizationId: string, provider: string, credentials: Record<string, string>, extra: Partial<StoredConnection> = {}): StoredConnection {
  return {
    id,
    organizationId,
    provider,
    name: provider,
    enabled: true,
    sealedCredentials: SealedCredentials.seal(keyring, id, credentials),
    credentialNames: Object.keys(credentials),
    ...extra,
  };
}

const envOf = async (g: OrganizationMcp, organizationId: string, provider = "everything") =>
  JSON.parse(textOf((await g.invoke({ organizationId }, { provider, toolName: "get-env", args: {} })).result)) as Record<string, string>;

beforeAll(async () => {
  catalog = {
    providers: {
      everything: {
        transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] },
        credentials: ["EVERYTHING_API_TOKEN"],
        description: "reference server",
      },
      // The official Notion server; BASE_URL points it at a local stand-in for api.notion.com.
      "notion-local": {
        transport: { type: "stdio", command: process.execPath, args: [await notion()] },
        credentials: ["NOTION_TOKEN", "BASE_URL"],
        description: "Notion",
      },
    },
  };
  pool = await testPool({ callTimeoutMs: 10_000 });
  httpServer = await startHttpServer(await everything(), () => ["streamableHttp"]);
  api = await startFakeNotionApi();
  store.put(row("conn_a_everything", orgA, "everything", { EVERYTHING_API_TOKEN: tokenA }));
  store.put(row("conn_a_notion", orgA, "notion-local", { NOTION_TOKEN: notionA, BASE_URL: api.url }));
  store.put(row("conn_b_notion", orgB, "notion-local", { NOTION_TOKEN: notionB, BASE_URL: api.url }));
  store.put(row("conn_a_secret", orgA, "everything", { EVERYTHING_API_TOKEN: tokenA }, { name: "a-private-name" }));
  // A row whose stored credentials carry a name the catalog does not declare.
  store.put(row("conn_b_everything", orgB, "everything", { EVERYTHING_API_TOKEN: tokenB, NODE_OPTIONS: "--require /tmp/evil.js" }));
  store.put(row("conn_b_custom", orgB, "custom", {}, { name: "own-server", transport: { type: "http", url: httpServer.url } }));
  store.put(row("conn_b_disabled", orgB, "everything", { EVERYTHING_API_TOKEN: tokenB }, { name: "off", enabled: false }));
  gateway = createMcpGateway({ store, keyring, runner: pool, catalog, allowPrivateUrls: false });
});
afterAll(async () => {
  await pool.close();
  await httpServer.stop();
  api.server.close();
});

describe("McpGateway", () => {
  it("runs a tool with the calling organization's own credential", async () => {
    // Upstream (a stand-in for api.notion.com) sees the raw token each organization stored.
    await gateway.invoke({ organizationId: orgA }, { provider: "notion-local", toolName: "API-get-self", args: {} });
    await gateway.invoke({ organizationId: orgB }, { provider: "notion-local", toolName: "API-get-self", args: {} });
    expect(api.requests.map((h) => h.authorization)).toEqual([`Bearer ${notionA}`, `Bearer ${notionB}`]);
    // And an echo of it never reaches the caller.
    const envB = await envOf(gateway, orgB);
    expect(envB.EVERYTHING_API_TOKEN).toBe("[redacted]");
    expect(JSON.stringify(envB)).not.toContain(tokenA);
    expect(JSON.stringify(envB)).not.toContain(tokenB);
  });

  it("passes only the credentials the catalog declares", async () => {
    expect((await envOf(gateway, orgB)).NODE_OPTIONS).toBeUndefined();
  });

  it("never reaches another organization's connections, whatever the arguments name", async () => {
    const byName = await gateway.invoke({ organizationId: orgB }, { organizationId: orgA, provider: "a-private-name", toolName: "echo", args: { message: "x" } }).catch((e: unknown) => e);
    expect(byName).toBeInstanceOf(McpProviderNotFoundError);
    expect((byName as McpProviderNotFoundError).data.available.sort()).toEqual(["custom", "everything", "notion-local", "own-server"]);
    const none = await gateway.invoke({ organizationId: orgC }, { provider: "everything", toolName: "echo", args: { message: "x" } }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(McpProviderNotFoundError);
    expect((none as Error).message).toMatch(/the organization has none/);
    expect(await gateway.tools({ organizationId: orgB }, "conn_a_everything")).toBeUndefined();
    expect((await gateway.list({ organizationId: orgC }, {})).providers).toEqual([]);
    const listB = await gateway.list({ organizationId: orgB }, {});
    expect(listB.providers.map((p) => p.name).sort()).toEqual(["everything", "notion-local", "own-server"]);
  });

  it("addresses a connection by name before provider", async () => {
    const { result } = await gateway.invoke({ organizationId: orgA }, { provider: "a-private-name", toolName: "echo", args: { message: "named" } });
    expect(textOf(result)).toBe("Echo: named");
  });

  it("lists tools with input schemas, and reports an unreachable server without hiding the rest", async () => {
    const { providers } = await gateway.list({ organizationId: orgB }, {});
    const ok = providers.find((p) => p.name === "everything")!;
    expect(ok.tools.find((t) => t.name === "echo")).toMatchObject({ description: expect.any(String), inputSchema: { type: "object" } });
    const custom = providers.find((p) => p.name === "own-server")!;
    // The custom server is on loopback: refused at connect time even though the row exists.
    expect(custom.tools).toEqual([]);
    expect(custom.error).toMatch(/unavailable: refusing to connect to 127\.0\.0\.1 .*loopback/);
    await expect(gateway.list({ organizationId: orgB }, { provider: "nope" })).rejects.toBeInstanceOf(McpProviderNotFoundError);
  });

  it("reaches a custom HTTP server when the operator allows private addresses", async () => {
    const permissive = createMcpGateway({ store, keyring, runner: pool, catalog, allowPrivateUrls: true });
    const { result } = await permissive.invoke({ organizationId: orgB }, { provider: "own-server", toolName: "echo", args: { message: "custom" } });
    expect(textOf(result)).toBe("Echo: custom");
  });

  it("answers with the contracts' shapes, and turns a hung server into a tool error the agent can read", async () => {
    McpListResponse.parse(await gateway.list({ organizationId: orgA }, {}));
    const impatient = await testPool({ callTimeoutMs: 2_000 });
    const g = createMcpGateway({ store, keyring, runner: impatient, catalog, allowPrivateUrls: false });
    const answer = await g.invoke({ organizationId: orgA }, { provider: "everything", toolName: "trigger-long-running-operation", args: { duration: 600, steps: 1 } });
    expect(McpInvokeResponse.parse(answer)).toEqual(answer);
    expect(answer.isError).toBe(true);
    expect(textOf(answer.result)).toMatch(/did not answer tools\/call trigger-long-running-operation within 2000 ms/);
    await impatient.close();
  });

  it("refuses an unknown tool, listing the connection's tools", async () => {
    const error = await gateway.invoke({ organizationId: orgA }, { provider: "everything", toolName: "nope", args: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpToolNotFoundError);
    expect((error as McpToolNotFoundError).data.available).toContain("get-env");
  });

  it("keeps running tools after key rotation, under the new key alone", async () => {
    const newKey = Keyring.generateKey();
    const oldText = Keyring.format(keyring);
    const during = Keyring.parse(`k2:${newKey},${oldText}`);
    const report = await Rotation.rotateAll(during, store);
    expect(report.rotated).toBe(7);
    keyring = Keyring.parse(`k2:${newKey}`);
    const after = createMcpGateway({ store, keyring, runner: pool, catalog, allowPrivateUrls: false });
    api.requests.length = 0;
    await after.invoke({ organizationId: orgA }, { provider: "notion-local", toolName: "API-get-self", args: {} });
    expect(api.requests.map((h) => h.authorization)).toEqual([`Bearer ${notionA}`]);
    expect((await Rotation.rotateAll(keyring, store)).rotated).toBe(0);
  });
});
