import type { ServerResponse } from "node:http";
import type { Reply } from "./types.js";

type Answer = Exclude<Reply, { hang: true } | { error: unknown }>;
type ToolCall = { id: string; type: "function"; function: { name: string; arguments: string } };

/** How many pieces a tool call's JSON arguments are streamed in, as OpenAI splits them. */
const ARGUMENT_PIECES = 3;

/** Sends an OpenAI-style error: the status, `{error: {message, type, code}}`, Retry-After on 429. */
export function sendError(res: ServerResponse, e: { status: number; message?: string; retryAfterSeconds?: number }): void {
  const headers: Record<string, string> = { "content-type": "application/json" };
  // Clients back off on Retry-After; a 429 without one makes them guess, so default to 1 s.
  const retryAfter = e.retryAfterSeconds ?? (e.status === 429 ? 1 : undefined);
  if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
  const body = { error: { message: e.message ?? `scripted error ${e.status}`, type: errorType(e.status), code: e.status } };
  res.writeHead(e.status, headers).end(JSON.stringify(body));
}

function errorType(status: number): string {
  if (status === 429) return "rate_limit_exceeded";
  if (status === 401 || status === 403) return "authentication_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

/** The usage a reply reports, as OpenAI spells it. */
export type WireUsage = { prompt_tokens: number; completion_tokens: number; total_tokens: number };

/** Sends a whole `chat.completion` object (the `stream: false` case); returns the usage it reported. */
export function sendCompletion(res: ServerResponse, reply: Answer, model: string, promptChars: number): WireUsage {
  const calls = toolCalls(reply);
  const text = reply.text ?? "";
  const message = { role: "assistant", content: calls.length && !text ? null : text, ...(calls.length ? { tool_calls: calls } : {}) };
  const body = {
    id: completionId(),
    object: "chat.completion",
    created: nowSeconds(),
    model,
    choices: [{ index: 0, message, finish_reason: calls.length ? "tool_calls" : "stop" }],
    usage: usage(promptChars, text, calls),
  };
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
  return body.usage;
}

/**
 * Streams a reply as SSE `chat.completion.chunk`s ending in `data: [DONE]`, the way OpenAI does;
 * returns the usage it reported (only with `includeUsage`, as OpenAI).
 */
export function sendStream(res: ServerResponse, reply: Answer, model: string, promptChars: number, includeUsage: boolean): WireUsage | undefined {
  const id = completionId();
  const created = nowSeconds();
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(`data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices, ...extra })}\n\n`);
  const delta = (d: Record<string, unknown>, finish: string | null = null) =>
    chunk([{ index: 0, delta: d, finish_reason: finish }]);

  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  delta({ role: "assistant", content: "" });
  const text = reply.text ?? "";
  const pieces = "toolCalls" in reply ? (text ? 1 : 0) : ((reply as { chunks?: number }).chunks ?? 3);
  for (const piece of split(text, pieces)) delta({ content: piece });
  const calls = toolCalls(reply);
  calls.forEach((call, index) => {
    delta({ tool_calls: [{ index, id: call.id, type: "function", function: { name: call.function.name, arguments: "" } }] });
    for (const piece of split(call.function.arguments, ARGUMENT_PIECES)) {
      delta({ tool_calls: [{ index, function: { arguments: piece } }] });
    }
  });
  delta({}, calls.length ? "tool_calls" : "stop");
  // With include_usage OpenAI sends one more chunk: empty choices, the usage of the whole call.
  const reported = includeUsage ? usage(promptChars, text, calls) : undefined;
  if (reported) chunk([], { usage: reported });
  res.end("data: [DONE]\n\n");
  return reported;
}

function toolCalls(reply: Answer): ToolCall[] {
  if (!("toolCalls" in reply)) return [];
  return reply.toolCalls.map((c) => ({
    id: c.id ?? `call_${Math.random().toString(36).slice(2, 12)}`,
    type: "function" as const,
    function: { name: c.name, arguments: JSON.stringify(c.arguments) },
  }));
}

/** Splits text into at most `n` non-empty pieces of near-equal length, by code point. */
export function split(text: string, n: number): string[] {
  const chars = Array.from(text);
  const count = Math.max(1, Math.min(Math.floor(n), chars.length));
  if (chars.length === 0) return [];
  const size = Math.ceil(chars.length / count);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(""));
  return out;
}

// Rough token counts (4 characters a token): engines only need plausible, non-zero numbers.
function usage(promptChars: number, text: string, calls: ToolCall[]): WireUsage {
  const completionChars = text.length + calls.reduce((n, c) => n + c.function.name.length + c.function.arguments.length, 0);
  const prompt_tokens = Math.max(1, Math.ceil(promptChars / 4));
  const completion_tokens = Math.max(1, Math.ceil(completionChars / 4));
  return { prompt_tokens, completion_tokens, total_tokens: prompt_tokens + completion_tokens };
}

const completionId = () => `chatcmpl-${Math.random().toString(36).slice(2, 14)}`;
const nowSeconds = () => Math.floor(Date.now() / 1000);
