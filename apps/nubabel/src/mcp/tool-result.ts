import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";

/**
 * A tool's answer as the agent reads it. `isError` marks the tool's own failure (bad arguments, the
 * upstream API said no…): a result to reason about, not an outage.
 */
export interface ToolCallResult {
  result: { content: unknown[]; structuredContent?: unknown };
  isError: boolean;
}

/** The agent-facing part of an SDK `callTool` answer. */
export function fromCallResult(raw: Record<string, unknown>): ToolCallResult {
  const content = Array.isArray(raw.content) ? raw.content : raw.toolResult !== undefined ? [{ type: "text", text: JSON.stringify(raw.toolResult) }] : [];
  const result: ToolCallResult["result"] = { content };
  if (raw.structuredContent !== undefined) result.structuredContent = raw.structuredContent;
  return { result, isError: raw.isError === true };
}

/**
 * A JSON-RPC error the server returned for the call (unknown tool, invalid params, the tool threw):
 * the tool's own failure, reported as a readable tool error. Timeouts and closed connections are
 * not: they are the pool's business.
 */
export function asToolError(error: unknown): ToolCallResult | undefined {
  if (!(error instanceof McpError)) return undefined;
  if (error.code === ErrorCode.RequestTimeout || error.code === ErrorCode.ConnectionClosed) return undefined;
  return { result: { content: [{ type: "text", text: error.message }] }, isError: true };
}

/** An error's message with its causes, for "fetch failed" style errors whose reason is nested. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let e: unknown = error;
  for (let depth = 0; e && depth < 4; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (message && !parts.includes(message)) parts.push(message);
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ") || "unknown error";
}
