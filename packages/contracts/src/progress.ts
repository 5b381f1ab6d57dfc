import { z } from "zod";
import { Approval, PermissionAsked } from "./approvals.js";
import { OpencodeSessionId, RunId } from "./ids.js";
import { ErrorInfo, RunState, RunStatus, TerminalRunState, Usage } from "./sidecar.js";
import { json, line, output } from "./text.js";

/** A tool call of a subagent the run started (OhMyOpenCode's `task`): the subagent's name. */
const subagent = () => line(200).optional();

const common = {
  /** ISO-8601 time the event happened. */
  timestamp: z.iso.datetime(),
  /**
   * Order within one run, set by the sidecar (0, 1, 2, …). Nubabel keeps its own per-session
   * order (the replay log id) and sends that as the SSE `id:`.
   */
  seq: z.number().int().nonnegative().optional(),
  /** The run the event belongs to (absent on events of older sidecars and on `connected`). */
  runId: line(80).optional(),
};

/** One step of a session's live progress. Terminal events are `completed` and `session_error`. */
export const ProgressEvent = z.discriminatedUnion("type", [
  z.object({ type: z.literal("connected"), data: z.object({ sessionId: z.string() }), ...common }),
  z.object({
    type: z.literal("message_updated"),
    /** The assistant's text so far (whole, not a delta): the latest event alone is enough. */
    data: z.object({ text: z.string(), messageId: z.string().optional() }),
    ...common,
  }),
  z.object({
    type: z.literal("tool_started"),
    data: z.object({ tool: z.string(), callId: z.string(), input: json().optional(), subagent: subagent() }),
    ...common,
  }),
  z.object({
    type: z.literal("tool_completed"),
    data: z.object({ tool: z.string(), callId: z.string(), output: z.string().optional(), subagent: subagent() }),
    ...common,
  }),
  z.object({
    type: z.literal("tool_failed"),
    data: z.object({ tool: z.string(), callId: z.string(), error: z.string(), subagent: subagent() }),
    ...common,
  }),
  z.object({
    type: z.literal("status"),
    data: z.object({
      status: z.enum(["running", "busy", "retry", "idle"]),
      message: z.string().optional(),
      attempt: z.number().int().optional(),
    }),
    ...common,
  }),
  z.object({ type: z.literal("session_idle"), data: z.object({}).loose(), ...common }),
  /** Sidecar → Nubabel only: a tool call waits for a decision. Nubabel streams it as `approval_requested`. */
  z.object({ type: z.literal("permission_asked"), data: PermissionAsked, ...common }),
  /** A tool call of the run waits for a person (`data` is the approval, `pending`). */
  z.object({ type: z.literal("approval_requested"), data: Approval, ...common }),
  /** An approval was decided or expired (`data` is the approval as decided). */
  z.object({ type: z.literal("approval_resolved"), data: Approval, ...common }),
  z.object({
    type: z.literal("session_error"),
    /** `output`: what the agent had written before it failed, if anything. */
    data: z.object({ error: ErrorInfo, output: z.string().optional() }),
    ...common,
  }),
  z.object({
    type: z.literal("completed"),
    data: z.object({ status: RunStatus, output: z.string() }),
    ...common,
  }),
]);
export type ProgressEvent = z.infer<typeof ProgressEvent>;
export type ProgressType = ProgressEvent["type"];

export const TERMINAL_TYPES: ReadonlySet<ProgressType> = new Set(["completed", "session_error"]);

/** True for the event that ends a run: nothing of that run follows it, and it is never dropped. */
export function isTerminal(event: Pick<ProgressEvent, "type">): boolean {
  return TERMINAL_TYPES.has(event.type);
}

/** Most events one progress callback may carry. */
export const MAX_PROGRESS_BATCH = 100;

/**
 * `POST /api/sidecar/sessions/:sessionId/progress` body: one event (`progress`, the seed's shape)
 * or several in order (`events`): the sidecar sends what piled up while its previous callback was
 * in flight, so a busy run costs one request per round trip, not one per event.
 */
export const ProgressPost = z
  .object({
    progress: ProgressEvent.optional(),
    events: z.array(ProgressEvent).min(1).max(MAX_PROGRESS_BATCH).optional(),
  })
  .superRefine((body, ctx) => {
    if ((body.progress === undefined) === (body.events === undefined)) {
      ctx.addIssue({ code: "custom", path: ["progress"], message: "give exactly one of progress (one event) or events (a list)" });
    }
  });
export type ProgressPost = z.infer<typeof ProgressPost>;

/** The events of a progress callback, in order. */
export function eventsOf(post: ProgressPost): ProgressEvent[] {
  return post.events ?? (post.progress ? [post.progress] : []);
}

/**
 * Nubabel's answer to a progress callback: the replay-log id of the last event appended, and of
 * each when the callback carried several (`events`).
 */
export const ProgressAck = z.object({ success: z.literal(true), id: z.string(), ids: z.array(z.string()).optional() });
export type ProgressAck = z.infer<typeof ProgressAck>;

/** What an SSE client receives as `data:`: the event plus Nubabel's ordered id and the session. */
export const StreamEvent = z.intersection(
  ProgressEvent,
  z.object({ id: z.string(), sessionId: z.string() }),
);
export type StreamEvent = z.infer<typeof StreamEvent>;

/**
 * The terminal callback (`callbacks.runResult`): how a run ended, with its answer and usage. Sent
 * until acknowledged, always with the same `webhook-id`; the receiver applies it once by `runId`.
 */
export const RunResult = z.object({
  runId: RunId,
  opencodeSessionId: OpencodeSessionId,
  status: TerminalRunState,
  // What Nubabel stores: NUL, which PostgreSQL refuses, is refused here (the sidecar replaces it).
  output: output(),
  error: ErrorInfo.extend({ code: output(200), message: output() }).optional(),
  usage: Usage.optional(),
  model: output(500).optional(),
  durationMs: z.number().int().nonnegative(),
  finishedAt: z.iso.datetime(),
  /**
   * The run's progress events not yet delivered when it ended, in order: the receiver appends them
   * before the run's terminal event, so the end of a turn costs one request rather than two.
   */
  events: z.array(ProgressEvent).min(1).max(MAX_PROGRESS_BATCH).optional(),
});
export type RunResult = z.infer<typeof RunResult>;

/** Nubabel's answer to a `RunResult`: the run's state after applying it (or as it already was). */
export const RunResultAck = z.object({ success: z.literal(true), status: RunState });
export type RunResultAck = z.infer<typeof RunResultAck>;
