import { randomBytes } from "node:crypto";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { McpConnection } from "../../src/mcp/connection.js";
import { McpConnectionError, McpTimeoutError, McpToolNotFoundError } from "../../src/mcp/errors.js";
import type { McpPool } from "../../src/mcp/pool.js";
import { everything, notion, silentServer, startFakeNotionApi, testPool, textOf } from "./servers.js";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let pool: McpPool;
let conn: McpConnection;
const token = `tok_${randomBytes(12).toString("hex")}`;
// A secret of Nubabel's own that must never reach an MCP server's environment.
const nubabelSecret = `nubabel_${randomBytes(12).toString("hex")}`;

beforeAll(async () => {
  process.env.NUBABEL_TEST_OWN_SECRET = nubabelSecret;
  pool = await testPool({ callTimeoutMs: 5_000 });
  conn = {
    id: "conn_everything",
    provider: "everything",
    transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] },
    credentials: { EVERYTHING_API_TOKEN: token },
  };
});
afterAll(async () => {
  delete process.env.NUBABEL_TEST_OWN_SECRET;
  await pool.close();
});

describe("McpPool over stdio (@modelcontextprotocol/server-everything)", () => {
  it("lists the server's tools and caches the list", async () => {
    const tools = await pool.listTools(conn);
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(["echo", "get-env", "trigger-long-running-operation"]));
    expect(tools.find((t) => t.name === "echo")!.inputSchema).toMatchObject({ properties: { message: { type: "string" } } });
    expect(await pool.listTools(conn)).toBe(tools);
  });

  it("calls a tool and returns its result", async () => {
    const { result, isError } = await pool.callTool(conn, "echo", { message: "hello from nubabel" });
    expect(isError).toBe(false);
    expect(textOf(result)).toBe("Echo: hello from nubabel");
  });

  it("injects the credential into the server's environment, and nothing of Nubabel's own", async () => {
    const { result } = await pool.callTool(conn, "get-env", {});
    const env = JSON.parse(textOf(result)) as Record<string, string>;
    // The server echoed the variable back; the pool blanks exact credential values on the way out,
    // so "[redacted]" here means the server held exactly the credential, and nobody downstream sees it.
    expect(env.EVERYTHING_API_TOKEN).toBe("[redacted]");
    expect(textOf(result)).not.toContain(token);
    expect(JSON.stringify(env)).not.toContain(nubabelSecret);
    expect(env.NUBABEL_TEST_OWN_SECRET).toBeUndefined();
    expect(Object.keys(env).sort()).toEqual(expect.arrayContaining(["EVERYTHING_API_TOKEN", "HOME", "PATH"]));
    expect(env.HOME).toMatch(/nubabel-mcp-home-/);
  });

  it("reports a tool's own error as a readable tool error, not a throw", async () => {
    const { result, isError } = await pool.callTool(conn, "echo", { message: 42 });
    expect(isError).toBe(true);
    expect(textOf(result)).toMatch(/message/);
  });

  it("refuses an unknown tool, listing the server's tools", async () => {
    const error = await pool.callTool(conn, "no-such-tool", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpToolNotFoundError);
    expect((error as McpToolNotFoundError).data.available).toContain("echo");
    expect((error as Error).message).toMatch(/has no tool "no-such-tool"; available: .*echo/);
  });

  it("times out a hung call, kills that server, and starts a fresh one on the next call", async () => {
    const impatient = await testPool({ callTimeoutMs: 1_500 });
    await impatient.callTool(conn, "echo", { message: "warm" });
    const before = impatient.pid(conn.id)!;
    const hung = impatient.callTool(conn, "trigger-long-running-operation", { duration: 600, steps: 1 });
    const error = await hung.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpTimeoutError);
    expect((error as Error).message).toMatch(/did not answer tools\/call trigger-long-running-operation within 1500 ms/);
    await vi.waitFor(() => expect(alive(before)).toBe(false), { timeout: 10_000 });
    const { result } = await impatient.callTool(conn, "echo", { message: "again" });
    expect(textOf(result)).toBe("Echo: again");
    expect(impatient.pid(conn.id)).not.toBe(before);
    await impatient.close();
  });

  it("restarts a crashed server on the next call", async () => {
    await pool.callTool(conn, "echo", { message: "before crash" });
    const pid = pool.pid(conn.id)!;
    process.kill(pid, "SIGKILL");
    await vi.waitFor(() => expect(pool.pid(conn.id)).toBeUndefined());
    const { result } = await pool.callTool(conn, "echo", { message: "after crash" });
    expect(textOf(result)).toBe("Echo: after crash");
    expect(pool.pid(conn.id)).not.toBe(pid);
  });

  it("stops an idle server", async () => {
    const idlePool = await testPool({ idleTimeoutMs: 50 });
    await idlePool.callTool(conn, "echo", { message: "x" });
    const pid = idlePool.pid(conn.id)!;
    expect(alive(pid)).toBe(true);
    await vi.waitFor(() => expect(alive(pid)).toBe(false), { timeout: 10_000 });
    expect(idlePool.pid(conn.id)).toBeUndefined();
    await idlePool.close();
  });

  it("keeps at most maxStdioServers processes: stops the least recently used idle one, refuses when all are busy", async () => {
    const small = await testPool({ maxStdioServers: 1 });
    const a = { ...conn, id: "conn_lru_a" };
    const b = { ...conn, id: "conn_lru_b" };
    await small.callTool(a, "echo", { message: "a" });
    const pidA = small.pid(a.id)!;
    await small.callTool(b, "echo", { message: "b" });
    await vi.waitFor(() => expect(alive(pidA)).toBe(false), { timeout: 10_000 });
    expect(small.pid(a.id)).toBeUndefined();
    const long = small.callTool(b, "trigger-long-running-operation", { duration: 600, steps: 1 }).catch((e: unknown) => e);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(small.callTool(a, "echo", { message: "a" })).rejects.toThrow(/all 1 MCP server processes are busy/);
    await small.close();
    expect(await long).toBeInstanceOf(McpConnectionError);
  });

  it("gives a fresh client when the connection's credentials change", async () => {
    const changed = { ...conn, credentials: { EVERYTHING_API_TOKEN: "rotated-token" } };
    const text = textOf((await pool.callTool(changed, "get-env", {})).result);
    // Only the new value is blanked for this definition: a reused old process would show the old token.
    expect((JSON.parse(text) as Record<string, string>).EVERYTHING_API_TOKEN).toBe("[redacted]");
    expect(text).not.toContain(token);
  });

  it("times out a server that never answers the handshake", async () => {
    // Long enough for a loaded machine to start node and write the pid file before the pool gives up.
    const silent = await testPool({ connectTimeoutMs: 3_000 });
    const pidFile = path.join(await mkdtemp(path.join(tmpdir(), "silent-")), "pid");
    const hung: McpConnection = {
      id: "conn_silent",
      provider: "silent",
      transport: { type: "stdio", command: process.execPath, args: [silentServer] },
      credentials: { PID_FILE: pidFile },
    };
    const error = await silent.listTools(hung).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpTimeoutError);
    expect((error as Error).message).toMatch(/did not answer initialize within 3000 ms/);
    const pid = Number(await readFile(pidFile, "utf8"));
    await silent.close();
    // close() returns only once the server it started has really exited: no orphans at shutdown.
    expect(alive(pid)).toBe(false);
  });

  it("reports a server that cannot start, with its redacted stderr, and logs no credential", async () => {
    const broken: McpConnection = {
      id: "conn_broken",
      provider: "broken",
      transport: { type: "stdio", command: process.execPath, args: ["-e", "console.error('boom with ' + process.env.SECRET_X); process.exit(3)"] },
      credentials: { SECRET_X: "very-secret-value" },
    };
    let logged = "";
    const logging = await testPool({ log: pino({ level: "debug" }, { write: (line: string) => void (logged += line) }) });
    const error = await logging.listTools(broken).catch((e: unknown) => e);
    await logging.close();
    expect(error).toBeInstanceOf(McpConnectionError);
    expect((error as Error).message).toContain("server stderr: boom with [redacted]");
    expect((error as Error).message).not.toContain("very-secret-value");
    expect(logged).toContain("mcp call failed");
    expect(logged).not.toContain("very-secret-value");
    const missing = { ...broken, id: "conn_missing", transport: { type: "stdio" as const, command: "/nonexistent/mcp-server", args: [] } };
    await expect(pool.listTools(missing)).rejects.toThrow(/unavailable: .*ENOENT/);
  });
});

describe("the built-in notion provider's server (@notionhq/notion-mcp-server over stdio)", () => {
  it("receives NOTION_TOKEN and uses it against the Notion API", async () => {
    const api = await startFakeNotionApi();
    const notionToken = `ntn_${randomBytes(16).toString("hex")}`;
    const notionConn: McpConnection = {
      id: "conn_notion",
      provider: "notion",
      transport: { type: "stdio", command: process.execPath, args: [await notion()] },
      // BASE_URL points the real server at a local stand-in for api.notion.com.
      credentials: { NOTION_TOKEN: notionToken, BASE_URL: api.url },
    };
    try {
      const { result, isError } = await pool.callTool(notionConn, "API-get-self", {});
      expect(isError).toBe(false);
      expect(textOf(result)).toContain("Fake Notion bot");
      expect(api.requests.map((h) => h.authorization)).toContain(`Bearer ${notionToken}`);
    } finally {
      await pool.drop(notionConn.id);
      api.server.close();
    }
  });
});
