import type { ApiRun, ContextRestored, ErrorInfo, RunState, TerminalRunState, Usage } from "@nubabel/contracts";

/** Where a run came from, so its answer reaches the right place even after a restart. */
export type Origin =
  | { kind: "api" }
  | {
      kind: "slack";
      teamId: string;
      channelId: string;
      threadTs: string;
      /** The person's message that asked. */
      messageTs?: string;
      /** The bot's progress message, edited into the answer at the end. */
      progressTs?: string;
      userId: string;
    };

/** Why a run failed, as stored: `status` keeps a sidecar's 4xx so a waiting caller gets it as is. */
export interface RunError extends ErrorInfo {
  status?: number;
  details?: unknown;
}

/** A run: one turn of one session, from acceptance to its answer. */
export interface Run {
  id: string;
  organizationId: string;
  sessionId: string;
  status: RunState;
  reason: string | null;
  prompt: string;
  userId: string | null;
  category: string | null;
  skills: string[] | null;
  origin: Origin;
  opencodeSessionId: string | null;
  sidecarUrl: string | null;
  output: string | null;
  error: RunError | null;
  usage: Usage | null;
  model: string | null;
  /** Set when the run moved its session to another sidecar, seeded with the conversation's history. */
  contextRestored: ContextRestored | null;
  abortRequested: boolean;
  /** The W3C trace context the run was accepted in (null with tracing off). */
  traceparent: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** How a run ends: its final state and what it produced. */
export interface Ending {
  status: TerminalRunState;
  reason?: string;
  output?: string;
  error?: RunError;
  usage?: Usage;
  model?: string;
  opencodeSessionId?: string;
}

/**
 * The moves of a run's lifecycle: `queued → running → completed | failed | aborted`, and a queued
 * run may end without running (aborted, or refused). Nothing leaves a terminal state: a second
 * answer for a finished run changes nothing.
 */
const MOVES: Record<RunState, readonly RunState[]> = {
  queued: ["running", "aborted", "failed"],
  running: ["completed", "failed", "aborted", "queued"],
  completed: [],
  failed: [],
  aborted: [],
};

/** The states a run may be in for a move to `to` (the store's conditional updates use it). */
export function sourcesOf(to: RunState): RunState[] {
  return (Object.keys(MOVES) as RunState[]).filter((from) => MOVES[from].includes(to));
}

/** The run as the API shows it. */
export function toApi(run: Run, queuePosition?: number): ApiRun {
  return {
    id: run.id,
    sessionId: run.sessionId,
    status: run.status,
    ...(run.reason ? { reason: run.reason } : {}),
    ...(run.output !== null ? { output: run.output } : {}),
    ...(run.error ? { error: { code: run.error.code, message: run.error.message } } : {}),
    ...(run.usage ? { usage: run.usage } : {}),
    ...(run.contextRestored ? { contextRestored: run.contextRestored } : {}),
    ...(queuePosition !== undefined && run.status === "queued" ? { queuePosition } : {}),
    ...(run.category ? { category: run.category } : {}),
    ...(run.skills ? { skills: run.skills } : {}),
    ...(run.userId ? { userId: run.userId } : {}),
    createdAt: run.createdAt.toISOString(),
    ...(run.startedAt ? { startedAt: run.startedAt.toISOString() } : {}),
    ...(run.finishedAt ? { finishedAt: run.finishedAt.toISOString() } : {}),
  };
}
