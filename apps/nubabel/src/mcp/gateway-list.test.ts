import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { describe, expect, it } from "vitest";
import { Keyring, SealedCredentials } from "../crypto/index.js";
import { McpToolNotFoundError } from "./errors.js";
import { createMcpGateway, LIST_SCHEMA_BUDGET } from "./gateway.js";
import { MemoryConnectionStore } from "./memory-connection-store.js";
import type { McpToolRunner } from "./pool.js";

const keyring = Keyring.parse(`k1:${Keyring.generateKey()}`);
const org = { organizationId: "org_list1" };

/** A gateway over a runner that lists `toolsOf(provider)`; no server is started. */
function gatewayWith(toolsOf: (provider: string) => Tool[]) {
  const store = new MemoryConnectionStore();
  for (const provider of ["notion", "github"]) {
    const id = `conn_${provider}1`;
    store.put({
      id,
      organizationId: org.organizationId,
      provider,
      name: provider,
      enabled: true,
      sealedCredentials: SealedCredentials.seal(keyring, id, { TOKEN: "t" }),
      credentialNames: ["TOKEN"],
    });
  }
  const runner: McpToolRunner = {
    listTools: async (conn) => toolsOf(conn.provider),
    callTool: async () => ({ result: { content: [] }, isError: false }),
  };
  const transport = { type: "stdio" as const, command: "true", args: [] };
  return createMcpGateway({
    store,
    keyring,
    runner,
    catalog: { providers: { notion: { transport, credentials: ["TOKEN"], description: "" }, github: { transport, credentials: ["TOKEN"], description: "" } } },
    allowPrivateUrls: false,
  });
}

const schema = (size: number) => ({ type: "object" as const, properties: { q: { type: "string", description: "x".repeat(size) } } });
const tools = (provider: string, n: number, size: number): Tool[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${provider}-tool-${i}`, description: `does ${i}`, inputSchema: schema(size) }));

describe("nubabel_mcp_list listings", () => {
  it("keeps input schemas while the list is small", async () => {
    const listed = await gatewayWith((p) => tools(p, 3, 50)).list(org, {});
    expect(listed.note).toBeUndefined();
    expect(listed.providers.flatMap((p) => p.tools).every((t) => t.inputSchema !== undefined)).toBe(true);
  });

  it("leaves schemas out of a list too large to read, and says how to get one", async () => {
    const listed = await gatewayWith((p) => tools(p, 40, 2_000)).list(org, {});
    expect(JSON.stringify(listed.providers).length).toBeLessThan(LIST_SCHEMA_BUDGET);
    expect(listed.providers.flatMap((p) => p.tools)).toHaveLength(80);
    expect(listed.providers.flatMap((p) => p.tools).some((t) => t.inputSchema !== undefined)).toBe(false);
    expect(listed.note).toMatch(/provider and tool/);
  });

  it("strips the largest listing first and keeps small servers fully described", async () => {
    const listed = await gatewayWith((p) => (p === "notion" ? tools(p, 60, 2_000) : tools(p, 3, 50))).list(org, {});
    const [notion, github] = [listed.providers.find((p) => p.name === "notion")!, listed.providers.find((p) => p.name === "github")!];
    expect(notion.tools.some((t) => t.inputSchema !== undefined)).toBe(false);
    expect(github.tools.every((t) => t.inputSchema !== undefined)).toBe(true);
    expect(listed.note).toMatch(/schemas of notion were left out/);
  });

  it("gives one tool with its full schema on request", async () => {
    const gateway = gatewayWith((p) => tools(p, 40, 2_000));
    const one = await gateway.list(org, { provider: "notion", tool: "notion-tool-7" });
    expect(one.providers).toEqual([{ provider: "notion", name: "notion", tools: [{ name: "notion-tool-7", description: "does 7", inputSchema: schema(2_000) }] }]);
    await expect(gateway.list(org, { provider: "notion", tool: "github-tool-1" })).rejects.toBeInstanceOf(McpToolNotFoundError);
    await expect(gateway.list(org, { tool: "nope" })).rejects.toThrow(/no tool "nope"; available: notion-tool-0/);
  });
});
