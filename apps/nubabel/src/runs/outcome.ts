import type { DelegateResponse, ProgressEvent, RunResult, SidecarRun } from "@nubabel/contracts";
import { Ids } from "@nubabel/contracts";
import { SidecarRejected, SidecarUnavailable } from "../sidecar/errors.js";
import { OpencodeSessionLost } from "./errors.js";
import type { HistoryEntry } from "./ports.js";
import type { Ending, Run } from "./run.js";

/** How a run ended, from the sidecar's terminal callback or its `GET /runs/:id`. */
export function endingFrom(result: RunResult | SidecarRun): Ending {
  const status = result.status === "completed" || result.status === "aborted" ? result.status : "failed";
  return {
    status,
    output: result.output ?? "",
    ...(result.error ? { error: result.error, reason: result.error.message } : {}),
    ...(result.usage ? { usage: result.usage } : {}),
    ...(result.model ? { model: result.model } : {}),
    opencodeSessionId: result.opencodeSessionId,
  };
}

/** What a run that reached the agent adds to its session's history: the prompt and the answer. */
export function historyOf(run: Run, ending: Ending, durationMs?: number): HistoryEntry[] {
  const prompt: HistoryEntry = {
    id: Ids.create(Ids.Prefix.message),
    role: "user",
    content: run.prompt,
    metadata: strip({ userId: run.userId ?? undefined, category: run.category ?? undefined, load_skills: run.skills ?? undefined, runId: run.id }),
    createdAt: run.createdAt,
  };
  const answer: HistoryEntry = {
    id: Ids.create(Ids.Prefix.message),
    role: "assistant",
    content: ending.output ?? "",
    metadata: strip({
      status: seedStatus(ending.status),
      error: ending.error ? { code: ending.error.code, message: ending.error.message } : undefined,
      model: ending.model,
      opencodeSessionId: ending.opencodeSessionId ?? run.opencodeSessionId ?? undefined,
      category: run.category ?? undefined,
      durationMs,
      usage: ending.usage,
      runId: run.id,
    }),
  };
  return [prompt, answer];
}

/** The progress event that ends a run on its session's stream, carrying its answer. */
export function terminalEvent(run: Run): Omit<ProgressEvent, "seq"> {
  const base = { timestamp: (run.finishedAt ?? new Date()).toISOString(), runId: run.id };
  if (run.status === "failed") {
    const error = run.error ? { code: run.error.code, message: run.error.message } : { code: "failed", message: run.reason ?? "the run failed" };
    return { type: "session_error", data: { error, ...(run.output ? { output: run.output } : {}) }, ...base };
  }
  return { type: "completed", data: { status: run.status === "aborted" ? "aborted" : "success", output: run.output ?? "" }, ...base };
}

/**
 * The seed's `/delegate` answer for a finished run. A run refused before it reached the agent
 * throws what it was refused with, so a waiting caller gets the same error as before runs existed
 * (an unknown category's 400 listing the known ones, 503 for an unreachable sidecar).
 */
export function toDelegateResponse(run: Run): DelegateResponse {
  const error = run.error;
  if (run.status === "failed" && error && !run.opencodeSessionId) {
    if (error.status) throw new SidecarRejected(error.status, error.code, error.message, error.details);
    if (error.code === "sidecar_unavailable") throw new SidecarUnavailable(run.sidecarUrl ?? "", error.message);
  }
  if (run.status === "failed" && error?.code === "opencode_session_lost") {
    throw new OpencodeSessionLost(run.sessionId, run.opencodeSessionId ?? "", run.sidecarUrl ?? "");
  }
  const durationMs = run.startedAt && run.finishedAt ? Math.max(0, run.finishedAt.getTime() - run.startedAt.getTime()) : undefined;
  return {
    output: run.output ?? "",
    status: seedStatus(run.status),
    ...(error ? { error: { code: error.code, message: error.message } } : run.status === "failed" && run.reason ? { error: { code: "failed", message: run.reason } } : {}),
    metadata: {
      model: run.model ?? "unknown",
      opencodeSessionId: run.opencodeSessionId ?? "unknown",
      nubabelSessionId: run.sessionId,
      ...(run.category ? { category: run.category } : {}),
      ...(durationMs !== undefined ? { durationMs } : {}),
      runId: run.id,
      ...(run.usage ? { usage: run.usage } : {}),
      ...(run.contextRestored ? { contextRestored: run.contextRestored } : {}),
    },
  };
}

function seedStatus(status: Run["status"]): DelegateResponse["status"] {
  return status === "completed" ? "success" : status === "aborted" ? "aborted" : "error";
}

function strip(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}
