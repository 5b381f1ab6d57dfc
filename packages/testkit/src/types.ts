/**
 * What the scripted model answers to one chat-completion request.
 * - text: streamed as `chunks` SSE deltas (default 3); `delayMs` waits before the first byte.
 * - toolCalls: finish_reason "tool_calls"; optional `text` is sent before the calls.
 * - error: HTTP error with an OpenAI-style body; a 429 always carries `Retry-After`.
 * - hang: never answers, until the client disconnects or the server closes.
 */
export type Reply =
  | { text: string; chunks?: number; delayMs?: number }
  | {
      toolCalls: { name: string; arguments: Record<string, unknown>; id?: string }[];
      text?: string;
      delayMs?: number;
    }
  | { error: { status: number; message?: string; retryAfterSeconds?: number }; delayMs?: number }
  | { hang: true };

/** Decides a reply from the request; `undefined` falls through to the queue, then the default. */
export type Responder = (req: RecordedRequest) => Reply | undefined;

/**
 * Parsed JSON from the wire. `any` on purpose: tests read deep, loosely shaped OpenAI fields
 * (`req.messages[0].content`) and a strict type there would only add casts.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** One chat-completion request as the server received it. */
export interface RecordedRequest {
  /** Sequence number shared by main and auxiliary requests, from 1. */
  id: number;
  /** The parsed JSON body. */
  body: Json;
  messages: Json[];
  tools: Json[];
  stream: boolean;
  model: string;
  /** True for the engine's side calls (title generation, summaries), see `auxiliary.ts`. */
  auxiliary: boolean;
  /** `Date.now()` when the body had been read. */
  receivedAt: number;
  /**
   * The usage the server reported for this call, once answered (a stream reports one only when
   * asked with `stream_options.include_usage`): what an engine's token counts are checked against.
   */
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}
