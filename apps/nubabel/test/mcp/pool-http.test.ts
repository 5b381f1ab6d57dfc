import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { McpConnection } from "../../src/mcp/connection.js";
import { McpConnectionError, McpTimeoutError } from "../../src/mcp/errors.js";
import type { McpPool } from "../../src/mcp/pool.js";
import { RecordingProxy } from "./recording-proxy.js";
import { everything, notion, startFakeNotionApi, startHttpServer, testPool, textOf, type RunningServer } from "./servers.js";

let pool: McpPool;
let server: RunningServer;
let conn: McpConnection;

beforeAll(async () => {
  pool = await testPool({ callTimeoutMs: 5_000 });
  server = await startHttpServer(await everything(), () => ["streamableHttp"]);
  conn = { id: "conn_http", provider: "everything", transport: { type: "http", url: server.url }, credentials: {} };
});
afterAll(async () => {
  await pool.close();
  await server.stop();
});

describe("McpPool over streamable HTTP (@modelcontextprotocol/server-everything)", () => {
  it("lists tools and calls one, reusing one client", async () => {
    const tools = await pool.listTools(conn);
    expect(tools.map((t) => t.name)).toContain("echo");
    const { result, isError } = await pool.callTool(conn, "echo", { message: "over http" });
    expect(isError).toBe(false);
    expect(textOf(result)).toBe("Echo: over http");
    expect(textOf((await pool.callTool(conn, "echo", { message: "again" })).result)).toBe("Echo: again");
    expect(pool.pid(conn.id)).toBeUndefined();
    // server-everything prints one line per MCP session it opens: one client, one session.
    expect(server.stdout().match(/Session initialized with ID/g)).toHaveLength(1);
  });

  it("times out a hung call, then reconnects with a new session", async () => {
    const impatient = await testPool({ callTimeoutMs: 1_000 });
    const error = await impatient
      .callTool(conn, "trigger-long-running-operation", { duration: 600, steps: 1 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpTimeoutError);
    expect(textOf((await impatient.callTool(conn, "echo", { message: "still here" })).result)).toBe("Echo: still here");
    await impatient.close();
  });

  it("reports a server that went away as unavailable, and recovers when it is back", async () => {
    const own = await startHttpServer(await everything(), () => ["streamableHttp"]);
    const c: McpConnection = { ...conn, id: "conn_flaky", transport: { type: "http", url: own.url } };
    expect(textOf((await pool.callTool(c, "echo", { message: "1" })).result)).toBe("Echo: 1");
    await own.stop();
    await expect(pool.callTool(c, "echo", { message: "2" })).rejects.toBeInstanceOf(McpConnectionError);
    const again = await startHttpServer(await everything(), () => ["streamableHttp"]);
    try {
      const moved = { ...c, transport: { type: "http" as const, url: again.url } };
      expect(textOf((await pool.callTool(moved, "echo", { message: "3" })).result)).toBe("Echo: 3");
    } finally {
      await again.stop();
    }
  });

  it("retries once, transparently, when a restarted server no longer knows the session", async () => {
    const first = await startHttpServer(await everything(), () => ["streamableHttp"]);
    const c: McpConnection = { ...conn, id: "conn_restarted", transport: { type: "http", url: first.url } };
    expect(textOf((await pool.callTool(c, "echo", { message: "before restart" })).result)).toBe("Echo: before restart");
    await first.stop();
    const second = await startHttpServer(await everything(), () => ["streamableHttp"], {}, first.port);
    try {
      expect(textOf((await pool.callTool(c, "echo", { message: "after restart" })).result)).toBe("Echo: after restart");
    } finally {
      await second.stop();
    }
  });

  it("lists a connection's tools once for concurrent callers, and again after a drop or a change of its definition", async () => {
    const proxy = await RecordingProxy.start(`http://127.0.0.1:${server.port}`);
    const c: McpConnection = { ...conn, id: "conn_listed", transport: { type: "http", url: `${proxy.url}/mcp` } };
    // The proxy records an exchange when its answer ends, a moment after the client has read it.
    const lists = async (expected: number) => {
      await vi.waitFor(() => expect(count()).toBeGreaterThanOrEqual(expected));
      await sleep(200);
      return count();
    };
    const count = () => proxy.exchanges.filter((e) => e.requestBody.includes('"tools/list"')).length;
    try {
      const [first, second, called] = await Promise.all([pool.listTools(c), pool.listTools(c), pool.callTool(c, "echo", { message: "x" })]);
      expect(second).toBe(first);
      expect(textOf(called.result)).toBe("Echo: x");
      expect(await lists(1)).toBe(1);
      await pool.drop(c.id);
      await Promise.all([pool.listTools(c), pool.listTools(c)]);
      expect(await lists(2)).toBe(2);
      await pool.listTools({ ...c, credentials: { "x-extra": "changed" } });
      expect(await lists(3)).toBe(3);
    } finally {
      await pool.drop(c.id);
      await proxy.close();
    }
  });

  it("refuses a restricted (custom) connection to a loopback server at connect time", async () => {
    const strict = await testPool();
    const error = await strict.listTools({ ...conn, id: "conn_custom", restrictNetwork: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpConnectionError);
    expect((error as Error).message).toMatch(/refusing to connect to 127\.0\.0\.1.*loopback/);
    await strict.close();
  });
});

describe("credentials as headers (@notionhq/notion-mcp-server in streamable-HTTP mode)", () => {
  let notionServer: RunningServer;
  let api: Awaited<ReturnType<typeof startFakeNotionApi>>;
  const gatewayToken = randomBytes(16).toString("hex");

  beforeAll(async () => {
    api = await startFakeNotionApi();
    notionServer = await startHttpServer(
      await notion(),
      (port) => ["--transport", "http", "--port", String(port), "--enable-token-passthrough"],
      { AUTH_TOKEN: gatewayToken, BASE_URL: api.url },
    );
  });
  afterAll(async () => {
    await notionServer.stop();
    api.server.close();
  });

  it("sends the connection's headers: the server admits the bearer and forwards the Notion token upstream", async () => {
    const notionToken = `ntn_${randomBytes(16).toString("hex")}`;
    const c: McpConnection = {
      id: "conn_notion_http",
      provider: "notion",
      transport: { type: "http", url: notionServer.url },
      credentials: { Authorization: `Bearer ${gatewayToken}`, "Notion-Token": notionToken },
    };
    const { result, isError } = await pool.callTool(c, "API-get-self", {});
    expect(isError).toBe(false);
    expect(textOf(result)).toContain("Fake Notion bot");
    expect(api.requests.map((h) => h.authorization)).toContain(`Bearer ${notionToken}`);
    await pool.drop(c.id);
  });

  it("fails to connect when the header is wrong (so the header is what admitted us)", async () => {
    const c: McpConnection = {
      id: "conn_notion_bad",
      provider: "notion",
      transport: { type: "http", url: notionServer.url },
      credentials: { Authorization: "Bearer wrong", "Notion-Token": "ntn_whatever1234" },
    };
    const error = await pool.listTools(c).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpConnectionError);
    expect((error as Error).message).toMatch(/403|Invalid bearer token/);
  });
});
