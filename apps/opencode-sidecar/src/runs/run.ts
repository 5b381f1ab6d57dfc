import {
  type ApprovalRequirements,
  type DelegateResponse,
  type ErrorInfo,
  isFinished,
  type RunResult,
  type RunState,
  type RunStatus,
  type SidecarRun,
  type Usage,
  Text,
} from "@nubabel/contracts";

/**
 * One run as the sidecar records it: a turn of a session from acceptance to its answer. Stored in
 * the `RunStore` so it can be read after it ended, also by the next process after a restart.
 */
export interface Run {
  runId: string;
  opencodeSessionId: string;
  nubabelSessionId: string;
  organizationId: string;
  category?: string;
  /** The tool calls of this run that wait for a person (Nubabel's policy when the run was asked). */
  approvals?: ApprovalRequirements;
  status: RunState;
  output?: string;
  error?: ErrorInfo;
  usage?: Usage;
  model?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  durationMs?: number;
}

/** How a turn ended, in the run's words. */
export interface Ending {
  output: string;
  error?: ErrorInfo;
  usage?: Usage;
  model?: string;
}

export type RunEvent =
  | { type: "start" }
  | ({ type: "complete" } & Ending)
  | ({ type: "fail" } & Ending & { error: ErrorInfo })
  | ({ type: "abort" } & Ending & { error: ErrorInfo });

/** Every move a run may make; anything else is a bug in the caller. */
const MOVES: Record<RunState, Partial<Record<RunEvent["type"], RunState>>> = {
  queued: { start: "running", fail: "failed", abort: "aborted" },
  running: { complete: "completed", fail: "failed", abort: "aborted" },
  completed: {},
  failed: {},
  aborted: {},
};

export class InvalidTransitionError extends Error {
  override readonly name = "InvalidTransitionError";
}

export function create(fields: Omit<Run, "status" | "createdAt">, now = new Date()): Run {
  return { ...fields, status: "queued", createdAt: now.toISOString() };
}

/** The run after `event`; throws `InvalidTransitionError` for a move the table does not allow. */
export function transition(run: Run, event: RunEvent, now = new Date()): Run {
  const next = MOVES[run.status][event.type];
  if (!next) throw new InvalidTransitionError(`run ${run.runId} cannot ${event.type} when ${run.status}`);
  if (event.type === "start") return { ...run, status: next, startedAt: now.toISOString() };
  const started = run.startedAt ? Date.parse(run.startedAt) : Date.parse(run.createdAt);
  return {
    ...run,
    status: next,
    output: event.output,
    ...(event.error ? { error: event.error } : {}),
    ...(event.usage ? { usage: event.usage } : {}),
    ...(event.model ? { model: event.model } : {}),
    finishedAt: now.toISOString(),
    durationMs: Math.max(0, now.getTime() - started),
  };
}

/** The error a run gets when the process that ran it is gone. */
export const LOST: ErrorInfo = {
  code: "sidecar_restarted",
  message: "the sidecar restarted while this run was in progress; its answer was lost",
};

/** The sidecar's answer-shaped status for a finished run (the seed's `DelegateResponse.status`). */
export function answerStatus(state: RunState): RunStatus {
  return state === "completed" ? "success" : state === "aborted" ? "aborted" : "error";
}

// The engine may answer with NUL (a binary file shown by a tool): no store keeps it, so it is
// replaced in what leaves the sidecar rather than refused by Nubabel and the answer lost.
const clean = (error: ErrorInfo): ErrorInfo => ({ code: Text.withoutNul(error.code), message: Text.withoutNul(error.message) });

export function toSidecarRun(run: Run): SidecarRun {
  return {
    runId: run.runId,
    opencodeSessionId: run.opencodeSessionId,
    nubabelSessionId: run.nubabelSessionId,
    status: run.status,
    ...(run.output !== undefined ? { output: Text.withoutNul(run.output) } : {}),
    ...(run.error ? { error: clean(run.error) } : {}),
    ...(run.usage ? { usage: run.usage } : {}),
    ...(run.model ? { model: run.model } : {}),
    createdAt: run.createdAt,
    ...(run.startedAt ? { startedAt: run.startedAt } : {}),
    ...(run.finishedAt ? { finishedAt: run.finishedAt } : {}),
    ...(run.durationMs !== undefined ? { durationMs: run.durationMs } : {}),
  };
}

/** The terminal callback's body; only for a finished run. */
export function toResult(run: Run): RunResult {
  if (!isFinished(run.status)) throw new InvalidTransitionError(`run ${run.runId} has no result while ${run.status}`);
  return {
    runId: run.runId,
    opencodeSessionId: run.opencodeSessionId,
    status: run.status,
    output: Text.withoutNul(run.output ?? ""),
    ...(run.error ? { error: clean(run.error) } : {}),
    ...(run.usage ? { usage: run.usage } : {}),
    ...(run.model ? { model: run.model } : {}),
    durationMs: run.durationMs ?? 0,
    finishedAt: run.finishedAt ?? new Date().toISOString(),
  };
}

/** The synchronous answer of `/delegate` and `/sessions/:id/prompt` for a finished run. */
export function toResponse(run: Run, fallbackModel: string): DelegateResponse {
  return {
    output: Text.withoutNul(run.output ?? ""),
    status: answerStatus(run.status),
    ...(run.error && run.status !== "completed" ? { error: clean(run.error) } : {}),
    metadata: {
      model: run.model ?? fallbackModel,
      opencodeSessionId: run.opencodeSessionId,
      nubabelSessionId: run.nubabelSessionId,
      ...(run.category ? { category: run.category } : {}),
      ...(run.durationMs !== undefined ? { durationMs: run.durationMs } : {}),
      runId: run.runId,
      ...(run.usage ? { usage: run.usage } : {}),
    },
  };
}
