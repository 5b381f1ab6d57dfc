import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { McpInvokeRequest, McpListRequest } from "@nubabel/contracts";
import type { Logger } from "pino";
import { Tracing } from "@nubabel/telemetry";
import type { AuditLog } from "../audit/index.js";
import { NubabelError } from "../errors.js";
import type { McpCaller, McpGateway } from "../mcp-gateway.js";
import { DecryptError, SealedCredentials, UnknownKeyError } from "../crypto/index.js";
import type { Keyring } from "../crypto/keyring.js";
import { CUSTOM, type Catalog } from "./catalog.js";
import type { McpConnection } from "./connection.js";
import type { ConnectionStore, StoredConnection } from "./connection-store.js";
import { McpConnectionError, McpProviderNotFoundError, McpTimeoutError, McpToolNotFoundError } from "./errors.js";
import type { McpToolRunner } from "./pool.js";
import type { ToolCallResult } from "./tool-result.js";

export interface McpToolSummary {
  name: string;
  description?: string;
  inputSchema?: unknown;
}

/** One connection and its tools, as `nubabel_mcp_list` shows them (the `McpListResponse` shape). */
export interface McpProviderTools {
  provider: string;
  name: string;
  tools: McpToolSummary[];
  /** Set when the server could not be reached; the other connections are still listed. */
  error?: string;
}

/**
 * The MCP service: implements the HTTP layer's `McpGateway` port (`POST /api/sidecar/mcp/invoke`
 * and `/list`) plus what connection management needs. The organization always comes from the
 * caller (capability token or API key), never from the request: every lookup is scoped to it, so
 * one organization cannot name, list or run another's connections, whatever the agent sends.
 */
export interface OrganizationMcp extends McpGateway {
  /**
   * The organization's enabled connections and their tools, optionally only those answering to
   * `provider`. Throws `McpProviderNotFoundError` (404) for an unknown provider. A server that
   * cannot be reached is listed with `error` and no tools; the others are still listed. A list too
   * large for an agent to read leaves input schemas out (with a `note`); `tool` asks for one tool
   * with its schema (`McpToolNotFoundError` when no listed connection has it).
   */
  list(caller: Pick<McpCaller, "organizationId">, request: McpListRequest): Promise<{ providers: McpProviderTools[]; note?: string }>;
  /**
   * Runs a tool with the organization's credentials. `provider` matches a connection's name first,
   * then its provider (the oldest enabled connection wins). Throws `McpProviderNotFoundError` or
   * `McpToolNotFoundError` (404, listing what exists). Everything the agent should read and react
   * to is a result with `isError: true`: the tool's own failure, a timeout, an unreachable server.
   * Every call, whatever its outcome, leaves one `tool_call` entry in the audit trail.
   */
  invoke(caller: Pick<McpCaller, "organizationId"> & Partial<Pick<McpCaller, "sessionId">>, request: McpInvokeRequest): Promise<ToolCallResult>;
  /**
   * The tools of one connection, enabled or not (a "test connection" action); undefined when the
   * connection is not the organization's. Throws `McpTimeoutError` / `McpConnectionError`.
   */
  tools(caller: Pick<McpCaller, "organizationId">, connectionId: string): Promise<McpToolSummary[] | undefined>;
}

export interface McpGatewayDeps {
  store: ConnectionStore;
  keyring: Keyring;
  runner: McpToolRunner;
  catalog: Catalog;
  /** Operator setting: may custom servers live on private networks? Also re-enforced at connect time. */
  allowPrivateUrls: boolean;
  /** Where every tool call is recorded (names, outcome and duration; never arguments or credentials). */
  audit?: Pick<AuditLog, "record">;
  /** The run a session is running now, for the audit entry (the sidecar's call does not name it). */
  currentRun?(organizationId: string, sessionId: string): Promise<string | undefined>;
  log?: Logger;
}

/** Recorded for a tool's own error: its text may quote the call's arguments or what the tool read. */
const TOOL_REPORTED_ERROR = "the tool reported an error";

export function createMcpGateway(deps: McpGatewayDeps): OrganizationMcp {
  const resolve = (row: StoredConnection): McpConnection => {
    let credentials: Record<string, string>;
    try {
      credentials = SealedCredentials.open(deps.keyring, row.id, row.sealedCredentials);
    } catch (error) {
      // A key removed too early (before `keys rotate` finished) or a tampered row: the agent gets a
      // tool error it can report, the operator a log line; the message never holds key material.
      if (!(error instanceof UnknownKeyError || error instanceof DecryptError)) throw error;
      deps.log?.error({ connectionId: row.id, error: error.name }, error.message);
      throw new McpConnectionError({ provider: row.name, connectionId: row.id, reason: `its credentials cannot be decrypted (${error.message})` });
    }
    if (row.provider === CUSTOM) {
      if (!row.transport) throw new McpConnectionError({ provider: row.name, connectionId: row.id, reason: "custom connection has no URL" });
      return { id: row.id, provider: row.name, transport: row.transport, credentials, restrictNetwork: !deps.allowPrivateUrls };
    }
    const entry = deps.catalog.providers[row.provider];
    if (!entry) {
      throw new McpConnectionError({ provider: row.name, connectionId: row.id, reason: `provider "${row.provider}" is no longer in the catalog` });
    }
    // Only the names the catalog declares reach the server, whatever was stored: a stray
    // NODE_OPTIONS or PATH in a row must not steer a process on Nubabel's host.
    const declared = Object.fromEntries(entry.credentials.filter((n) => n in credentials).map((n) => [n, credentials[n]!]));
    return { id: row.id, provider: row.name, transport: entry.transport, credentials: declared };
  };

  const pick = (rows: StoredConnection[], provider: string): StoredConnection[] => {
    const byName = rows.filter((r) => r.name === provider);
    return byName.length ? byName : rows.filter((r) => r.provider === provider);
  };

  const notFound = (rows: StoredConnection[], provider: string) =>
    new McpProviderNotFoundError({ provider, available: [...new Set(rows.flatMap((r) => (r.name === r.provider ? [r.provider] : [r.provider, r.name])))] });

  const summarize = (tools: Tool[]): McpToolSummary[] =>
    tools.map((t) => ({ name: t.name, ...(t.description ? { description: t.description } : {}), inputSchema: t.inputSchema }));

  /**
   * Runs the tool; an outage becomes a result the agent reads (it cannot fix one by retrying
   * differently). `detail` is what the audit may keep of a failure: Nubabel's own words only.
   */
  const invokeOn = async (row: StoredConnection, toolName: string, args: Record<string, unknown>): Promise<{ answer: ToolCallResult; detail?: string }> => {
    try {
      const answer = await deps.runner.callTool(resolve(row), toolName, args);
      return answer.isError ? { answer, detail: TOOL_REPORTED_ERROR } : { answer };
    } catch (error) {
      if (error instanceof McpTimeoutError || error instanceof McpConnectionError) {
        deps.log?.warn({ connectionId: row.id, provider: row.provider, tool: toolName, error: error.name }, error.message);
        return { answer: { result: { content: [{ type: "text", text: error.message }] }, isError: true }, detail: error.message };
      }
      throw error;
    }
  };

  return {
    async list({ organizationId }, { provider, tool }) {
      const rows = await deps.store.listEnabled(organizationId);
      const chosen = provider === undefined ? rows : pick(rows, provider);
      if (provider !== undefined && chosen.length === 0) throw notFound(rows, provider);
      const providers = await Promise.all(
        chosen.map(async (row): Promise<McpProviderTools> => {
          try {
            return { provider: row.provider, name: row.name, tools: summarize(await deps.runner.listTools(resolve(row))) };
          } catch (error) {
            deps.log?.warn({ connectionId: row.id, provider: row.provider, error: (error as Error).name }, (error as Error).message);
            return { provider: row.provider, name: row.name, tools: [], error: (error as Error).message };
          }
        }),
      );
      return tool === undefined ? compact(providers) : onlyTool(providers, tool, provider);
    },

    async invoke({ organizationId, sessionId }, { provider, toolName, args }) {
      const started = performance.now();
      // Asked beside the call rather than before it, so the audit costs the tool no time.
      const runId = sessionId && deps.currentRun ? deps.currentRun(organizationId, sessionId).catch(() => undefined) : undefined;
      let row: StoredConnection | undefined;
      // Names only, here as in the span: arguments may hold what a person wrote, and credentials never go near either.
      const audit = async (status: "ok" | "error", detail?: string) =>
        deps.audit?.record({
          organizationId,
          kind: "tool_call",
          actor: "agent",
          action: "invoke",
          ...(sessionId ? { sessionId } : {}),
          ...((await runId) ? { runId: await runId } : {}),
          tool: toolName,
          provider: row?.name ?? provider,
          ...(row ? { connectionId: row.id } : {}),
          status,
          durationMs: Math.round(performance.now() - started),
          ...(detail ? { detail } : {}),
        });
      const attributes = { "mcp.provider": provider, "mcp.tool.name": toolName };
      try {
        const { answer, detail } = await Tracing.inSpan("mcp.invoke", { tracer: "nubabel.mcp", attributes }, async (span) => {
          const rows = await deps.store.listEnabled(organizationId);
          row = pick(rows, provider)[0];
          if (!row) throw notFound(rows, provider);
          span.setAttribute("mcp.connection.id", row.id);
          return invokeOn(row, toolName, args);
        });
        await audit(answer.isError ? "error" : "ok", detail);
        return answer;
      } catch (error) {
        // Our typed errors say what went wrong in our own words; anything else only by its name.
        await audit("error", error instanceof NubabelError ? error.message : (error as Error).name);
        throw error;
      }
    },

    async tools({ organizationId }, connectionId) {
      const row = await deps.store.get(organizationId, connectionId);
      return row ? summarize(await deps.runner.listTools(resolve(row))) : undefined;
    },
  };
}

/**
 * The engine cuts a tool's output past 50 KiB (or 2,000 lines) before the agent reads it, and one
 * Notion server lists ~200 KB of schemas: past this many characters of JSON, schemas are left out
 * and fetched per tool.
 */
export const LIST_SCHEMA_BUDGET = 40_000;

function compact(providers: McpProviderTools[]): { providers: McpProviderTools[]; note?: string } {
  const size = (p: McpProviderTools) => JSON.stringify(p).length;
  let total = providers.reduce((sum, p) => sum + size(p), 0);
  if (total <= LIST_SCHEMA_BUDGET) return { providers };
  // The largest listings lose their schemas first, so small servers stay fully described.
  const out = [...providers];
  const bySize = out.map((p, i) => ({ i, size: size(p) })).sort((a, b) => b.size - a.size);
  const stripped: string[] = [];
  for (const { i, size: before } of bySize) {
    if (total <= LIST_SCHEMA_BUDGET) break;
    const p = out[i]!;
    out[i] = { ...p, tools: p.tools.map(({ inputSchema: _schema, ...rest }) => rest) };
    total -= before - size(out[i]!);
    stripped.push(p.name);
  }
  return {
    providers: out,
    note: `Input schemas of ${stripped.join(", ")} were left out to keep this list short: call nubabel_mcp_list with provider and tool to get one tool's schema.`,
  };
}

function onlyTool(providers: McpProviderTools[], tool: string, provider: string | undefined): { providers: McpProviderTools[] } {
  const matching = providers.map((p) => ({ ...p, tools: p.tools.filter((t) => t.name === tool) })).filter((p) => p.tools.length > 0);
  if (matching.length === 0) {
    throw new McpToolNotFoundError({ provider: provider ?? "any connected provider", tool, available: providers.flatMap((p) => p.tools.map((t) => t.name)) });
  }
  return { providers: matching };
}
