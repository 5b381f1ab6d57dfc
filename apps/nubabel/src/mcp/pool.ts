import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPError } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { FetchLike } from "@modelcontextprotocol/sdk/shared/transport.js";
import { ErrorCode, McpError, ToolListChangedNotificationSchema, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { LRUCache } from "lru-cache";
import type { Logger } from "pino";
import { Tracing } from "@nubabel/telemetry";
import { fingerprint, type McpConnection } from "./connection.js";
import { createGuardedFetch, type GuardedFetch } from "./guarded-fetch.js";
import { McpConnectionError, McpTimeoutError, McpToolNotFoundError, McpUrlRefusedError } from "./errors.js";
import { redactDeep, redactText, secretsOf } from "./redact.js";
import { asToolError, describeError, fromCallResult, type ToolCallResult } from "./tool-result.js";
import { buildTransport, type BuiltTransport, type StdioHost } from "./transports.js";

export interface McpPoolOptions {
  stdio: StdioHost;
  /** Bound on each request to a running server (list, call). */
  callTimeoutMs?: number;
  /** Bound on starting a server and its handshake; longer, since `npx` may first download it. */
  connectTimeoutMs?: number;
  /** A client unused this long is closed (a stdio server is stopped). */
  idleTimeoutMs?: number;
  /** How long a server's tool list is trusted before it is asked again. */
  toolsTtlMs?: number;
  /**
   * Most stdio servers running at once (each is a process on Nubabel's host). Starting one more
   * stops the least recently used idle one; when none is idle the call fails as unavailable.
   */
  maxStdioServers?: number;
  /** Used for connections with `restrictNetwork`; by default the pool makes one with `createGuardedFetch`. */
  guardedFetch?: FetchLike;
  log?: Logger;
}

/**
 * Runs MCP operations for already-decrypted connections. Promises: every operation is bounded in
 * time; a tool's own failure is a result with `isError: true`; everything else is a typed error
 * (`McpToolNotFoundError`, `McpTimeoutError`, `McpConnectionError`) whose message holds no
 * credential. `McpPool` is the implementation; the gateway depends only on this.
 */
export interface McpToolRunner {
  listTools(conn: McpConnection): Promise<Tool[]>;
  callTool(conn: McpConnection, name: string, args: Record<string, unknown>): Promise<ToolCallResult>;
}

interface Entry {
  fingerprint: string;
  built: BuiltTransport;
  client: Client;
  ready: Promise<void>;
  inflight: number;
  /** Has completed an operation; only such a client is worth one transparent retry. */
  used: boolean;
  stdio: boolean;
  lastUsed: number;
  idle?: NodeJS.Timeout;
  closed: boolean;
}

/**
 * One MCP client per connection id, shared by every request for that connection. Stdio servers
 * start on first use and stop when idle; a server that crashes, hangs or drops its session is
 * forgotten, and the next call starts a fresh one.
 */
export class McpPool implements McpToolRunner {
  private readonly entries = new Map<string, Entry>();
  /**
   * Tool lists under `toolsKey(id, fingerprint)`: a connection whose definition changed is a miss.
   * Concurrent callers share one load.
   */
  private readonly tools: LRUCache<string, Tool[], McpConnection>;
  private readonly callTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private closing = false;
  private readonly closingClients = new Set<Promise<unknown>>();
  private ownGuard?: GuardedFetch;

  constructor(private readonly options: McpPoolOptions) {
    this.callTimeoutMs = options.callTimeoutMs ?? 30_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 60_000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
    this.tools = new LRUCache<string, Tool[], McpConnection>({
      max: 10_000,
      ttl: options.toolsTtlMs ?? 60_000,
      // A load evicted or cleared before it ends still answers the callers waiting for it.
      ignoreFetchAbort: true,
      fetchMethod: (_key, _stale, { context }) => this.loadTools(context),
    });
  }

  /** The server's tools, cached for `toolsTtlMs` per connection. */
  async listTools(conn: McpConnection): Promise<Tool[]> {
    return this.tools.forceFetch(toolsKey(conn.id, fingerprint(conn)), { context: conn });
  }

  private loadTools(conn: McpConnection): Promise<Tool[]> {
    return this.use(conn, "tools/list", async (client) => {
      const all: Tool[] = [];
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.callTimeoutMs });
        all.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      return all;
    });
  }

  /**
   * Runs a tool. The tool's own failures (`isError`, or a JSON-RPC error for the call) come back as
   * a result with `isError: true`. Throws `McpToolNotFoundError` (listing the tools),
   * `McpTimeoutError` or `McpConnectionError`.
   */
  async callTool(conn: McpConnection, name: string, args: Record<string, unknown>): Promise<ToolCallResult> {
    const tools = await this.listTools(conn);
    if (!tools.some((t) => t.name === name)) {
      throw new McpToolNotFoundError({ provider: conn.provider, tool: name, available: tools.map((t) => t.name) });
    }
    // The call to the server itself (a reconnect included), apart from the tool list read above.
    const attributes = { "mcp.provider": conn.provider, "mcp.tool.name": name, "mcp.connection.id": conn.id };
    const answer = await Tracing.inSpan(`mcp tools/call ${name}`, { tracer: "nubabel.mcp", kind: Tracing.SpanKind.CLIENT, attributes }, (span) =>
      this.use(conn, `tools/call ${name}`, async (client) => {
        try {
          const raw = await client.callTool({ name, arguments: args }, undefined, { timeout: this.callTimeoutMs });
          return fromCallResult(raw);
        } catch (error) {
          const toolError = asToolError(error);
          if (toolError) return toolError;
          throw error;
        }
      }).then((result) => {
        if (result.isError) span.setAttribute("mcp.tool.is_error", true);
        return result;
      }),
    );
    // Credentials never leave Nubabel, even when a server echoes one back (an environment dump,
    // an error quoting the token it refused): the agent and the sidecar see "[redacted]".
    return redactDeep(answer, secretsOf(conn.credentials));
  }

  /** The stdio server's pid, if one is running for this connection (diagnostics, tests). */
  pid(connectionId: string): number | undefined {
    return this.entries.get(connectionId)?.built.pid();
  }

  /** Closes the connection's client (stops its stdio server) and forgets its tools. */
  async drop(connectionId: string): Promise<void> {
    // Under any fingerprint; a walk, but only when a connection is changed or removed.
    for (const key of [...this.tools.keys()]) if (key.startsWith(toolsKey(connectionId, ""))) this.tools.delete(key);
    const entry = this.entries.get(connectionId);
    if (entry) await this.discard(connectionId, entry);
  }

  /** Closes every client; for shutdown. Later calls fail. */
  async close(): Promise<void> {
    this.closing = true;
    this.tools.clear();
    await Promise.all([...this.entries].map(([id, entry]) => this.discard(id, entry)));
    await Promise.all([...this.closingClients]);
    await this.ownGuard?.close();
  }

  private guardedFetch(): FetchLike {
    if (this.options.guardedFetch) return this.options.guardedFetch;
    this.ownGuard ??= createGuardedFetch();
    return this.ownGuard.fetch;
  }

  private async use<T>(conn: McpConnection, operation: string, run: (client: Client) => Promise<T>, retried = false): Promise<T> {
    if (this.closing) throw this.unavailable(conn, "Nubabel is shutting down");
    const entry = this.acquire(conn);
    entry.inflight++;
    if (entry.idle) clearTimeout(entry.idle);
    entry.lastUsed = Date.now();
    let phase = "initialize";
    try {
      await entry.ready;
      phase = operation;
      const result = await run(entry.client);
      entry.used = true;
      return result;
    } catch (error) {
      // Whatever went wrong, this client is suspect: the next call gets a fresh one.
      void this.discard(conn.id, entry);
      // A client that worked before and whose request never reached the server (the server
      // restarted and forgot the session, the process died unnoticed) is retried once, fresh.
      if (entry.used && !retried && neverDelivered(error)) return this.use(conn, operation, run, true);
      // Let the piped stderr of a server that just exited drain before its tail is read.
      if (conn.transport.type === "stdio") await new Promise((resolve) => setImmediate(resolve));
      throw this.translate(conn, entry, phase, error);
    } finally {
      entry.inflight--;
      if (entry.inflight === 0 && !entry.closed) {
        entry.idle = setTimeout(() => void this.discard(conn.id, entry), this.idleTimeoutMs);
        entry.idle.unref();
      }
    }
  }

  private acquire(conn: McpConnection): Entry {
    const fp = fingerprint(conn);
    const existing = this.entries.get(conn.id);
    if (existing && existing.fingerprint === fp && !existing.closed) return existing;
    if (existing) void this.discard(conn.id, existing);
    if (conn.transport.type === "stdio") this.makeRoomForStdio(conn);
    const built = buildTransport(conn, this.options.stdio, conn.restrictNetwork ? this.guardedFetch() : undefined);
    const client = new Client({ name: "nubabel", version: "0.1.0" }, { capabilities: {} });
    const entry: Entry = {
      fingerprint: fp,
      built,
      client,
      inflight: 0,
      used: false,
      stdio: conn.transport.type === "stdio",
      lastUsed: Date.now(),
      closed: false,
      ready: Promise.resolve(),
    };
    // A server that announces new tools should not wait out the cache. A list still loading is
    // left alone: the server answers it after this notice, so it is already the new one.
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      const key = toolsKey(conn.id, fp);
      if (this.tools.peek(key)) this.tools.delete(key);
    });
    // A stdio server that exits (crash, kill) or an HTTP session that ends closes the client.
    client.onclose = () => {
      entry.closed = true;
      if (this.entries.get(conn.id) === entry) this.entries.delete(conn.id);
    };
    entry.ready = client.connect(built.transport, { timeout: this.connectTimeoutMs });
    entry.ready.catch(() => undefined);
    this.entries.set(conn.id, entry);
    this.options.log?.debug({ connectionId: conn.id, provider: conn.provider, transport: conn.transport.type }, "mcp client starting");
    return entry;
  }

  private makeRoomForStdio(conn: McpConnection): void {
    const max = this.options.maxStdioServers ?? 64;
    const running = [...this.entries].filter(([, e]) => e.stdio && !e.closed);
    if (running.length < max) return;
    const idle = running.filter(([, e]) => e.inflight === 0).sort(([, a], [, b]) => a.lastUsed - b.lastUsed)[0];
    if (!idle) throw this.unavailable(conn, `all ${max} MCP server processes are busy; try again shortly`);
    void this.discard(idle[0], idle[1]);
  }

  private async discard(connectionId: string, entry: Entry): Promise<void> {
    if (entry.idle) clearTimeout(entry.idle);
    if (this.entries.get(connectionId) === entry) this.entries.delete(connectionId);
    if (entry.closed) return;
    entry.closed = true;
    // Tracked so `close()` waits for stdio servers to be stopped, not just asked to stop.
    const closing = entry.client
      .close()
      .catch(() => undefined)
      .then(() => entry.built.stopped());
    this.closingClients.add(closing);
    await closing;
    this.closingClients.delete(closing);
  }

  private translate(conn: McpConnection, entry: Entry, operation: string, error: unknown): Error {
    if (error instanceof McpToolNotFoundError) return error;
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      const timeoutMs = operation === "initialize" ? this.connectTimeoutMs : this.callTimeoutMs;
      return new McpTimeoutError({ provider: conn.provider, connectionId: conn.id, operation, timeoutMs });
    }
    const refused = findCause(error, McpUrlRefusedError);
    if (refused) return this.unavailable(conn, refused.message);
    const stderr = entry.built.stderrTail();
    const detail = describeError(error) + (stderr ? `; server stderr: ${stderr.split("\n").slice(-5).join(" | ")}` : "");
    // An HTTP error body may quote the header it refused.
    const reason = redactText(detail, secretsOf(conn.credentials));
    this.options.log?.warn({ connectionId: conn.id, provider: conn.provider, operation, reason }, "mcp call failed");
    return this.unavailable(conn, reason);
  }

  private unavailable(conn: McpConnection, reason: string): McpConnectionError {
    return new McpConnectionError({ provider: conn.provider, connectionId: conn.id, reason });
  }
}

function toolsKey(connectionId: string, fp: string): string {
  return `${connectionId}\u0000${fp}`;
}

/**
 * True when the server provably did not act on the request: it refused the message at the HTTP
 * level (400/404: unknown or expired session) or the transport was already gone before sending.
 */
function neverDelivered(error: unknown): boolean {
  if (error instanceof StreamableHTTPError) return error.code === 400 || error.code === 404;
  return error instanceof Error && error.message === "Not connected";
}

function findCause<T extends Error>(error: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if (e instanceof type) return e;
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}
