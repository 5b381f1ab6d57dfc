import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createRequire } from "node:module";
import { connect, createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { McpPool, type McpPoolOptions } from "../../src/mcp/pool.js";

const require = createRequire(import.meta.url);

/** Absolute path of a package's bin script, as installed from the registry. */
export async function binOf(pkg: string, name: string): Promise<string> {
  const manifest = require.resolve(`${pkg}/package.json`);
  const json = JSON.parse(await readFile(manifest, "utf8")) as { bin: Record<string, string> };
  return path.resolve(path.dirname(manifest), json.bin[name]!);
}

export const everything = () => binOf("@modelcontextprotocol/server-everything", "mcp-server-everything");
export const notion = () => binOf("@notionhq/notion-mcp-server", "notion-mcp-server");
export const silentServer = fileURLToPath(new URL("./fixtures/silent-server.mjs", import.meta.url));

export async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

export interface RunningServer {
  url: string;
  port: number;
  /** Everything the server printed on stdout so far. */
  stdout(): string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts a registry MCP server's streamable-HTTP mode on a free port and waits until it listens. */
export async function startHttpServer(
  script: string,
  args: (port: number) => string[],
  env: Record<string, string> = {},
  fixedPort?: number,
): Promise<RunningServer> {
  const port = fixedPort ?? (await freePort());
  const child = spawn(process.execPath, [script, ...args(port)], {
    env: { PATH: process.env.PATH ?? "", PORT: String(port), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString()));
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString()));
  for (let i = 0; i < 300 && !(await accepting(port)); i++) {
    if (child.exitCode !== null) throw new Error(`server exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    port,
    stdout: () => stdout,
    child,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** A stand-in for api.notion.com that records the headers each request arrived with. */
export async function startFakeNotionApi(): Promise<{ url: string; requests: IncomingHttpHeaders[]; server: Server }> {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    requests.push(req.headers);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ object: "user", id: "bot-1", type: "bot", name: "Fake Notion bot", bot: {} }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

/** A pool whose stdio servers get the test runner's PATH and a fresh HOME. */
export async function testPool(options: Partial<McpPoolOptions> = {}): Promise<McpPool> {
  const home = await mkdtemp(path.join(tmpdir(), "nubabel-mcp-home-"));
  return new McpPool({ stdio: { path: process.env.PATH ?? "", home }, ...options });
}

/** Text of every text part of a tool result. */
export function textOf(result: { content: unknown[] }): string {
  return result.content
    .map((c) => (c && typeof c === "object" && "text" in c ? String((c as { text: unknown }).text) : ""))
    .join("\n");
}
