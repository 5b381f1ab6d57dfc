import { setTimeout as sleep } from "node:timers/promises";
import { type RunAccepted, Webhooks } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import type { SessionMapping } from "../mapping/session-mapping.js";
import type { SidecarClient } from "../sidecar/client.js";
import { SidecarRejected, SidecarUnavailable } from "../sidecar/errors.js";
import { bind } from "./binding.js";
import type { Ending, Run } from "./run.js";

export interface DispatchDeps {
  mapping: SessionMapping;
  sidecar: SidecarClient;
  tokenSecret: string;
  publicUrl: () => string;
  /** Where new OpenCode sessions are created; follow-ups go to the sidecar in the mapping. */
  sidecarUrl: string;
  /** The longest a run may take; its callback token expires `TOKEN_MARGIN_SECONDS` after that. */
  runTimeoutMs: number;
}

/** Time after a run's bound for its last callbacks (a queue ahead of it, the result's retries). */
export const TOKEN_MARGIN_SECONDS = 10 * 60;

/** Where the sidecar runs it, or why it never started. */
export type Placement = { placed: { opencodeSessionId: string; sidecarUrl: string } } | { refused: Ending };

/**
 * Hands a claimed run to a sidecar and returns as soon as the sidecar accepted it. The first run
 * of a session creates its OpenCode session (`/delegate`) and records the mapping before
 * answering; later ones prompt the mapped session on the sidecar that owns it. Runs of one session
 * never dispatch concurrently (the store starts one at a time), so no lock is needed here.
 */
export async function dispatch(deps: DispatchDeps, run: Run, log: Logger, newSession = false): Promise<Placement> {
  const ttlSeconds = Math.ceil(deps.runTimeoutMs / 1000) + TOKEN_MARGIN_SECONDS;
  const binding = bind(deps.publicUrl(), deps.tokenSecret, { id: run.sessionId, organizationId: run.organizationId }, ttlSeconds);
  // A session created with this run has no mapping: no need to look (a miss reads PostgreSQL).
  const mapped = newSession ? undefined : await deps.mapping.bySession(run.organizationId, run.sessionId, log);
  // One message across the hand-over's tries: the same webhook-id, each try signed a second later.
  const delivery = new Webhooks.Outgoing(`msg_${run.id}`);
  const common = {
    prompt: run.prompt,
    session_id: run.sessionId,
    runId: run.id,
    timeoutMs: deps.runTimeoutMs,
    ...(run.userId ? { userId: run.userId } : {}),
    ...binding,
  };
  try {
    let accepted: RunAccepted;
    let sidecarUrl: string;
    if (mapped) {
      sidecarUrl = mapped.sidecarUrl;
      accepted = await again(() => deps.sidecar.prompt(sidecarUrl, mapped.opencodeSessionId, common, log, delivery)).catch((err: unknown) =>
        acceptedAnyway(deps, sidecarUrl, run.id, err, log),
      );
    } else {
      sidecarUrl = deps.sidecarUrl;
      const body = { ...common, ...(run.category ? { category: run.category } : {}), ...(run.skills ? { load_skills: run.skills } : {}) };
      accepted = await again(() => deps.sidecar.delegate(sidecarUrl, body, log, delivery)).catch((err: unknown) => acceptedAnyway(deps, sidecarUrl, run.id, err, log));
      const kept = await deps.mapping.record(
        { sessionId: run.sessionId, opencodeSessionId: accepted.opencodeSessionId, organizationId: run.organizationId, sidecarUrl },
        log,
      );
      if (kept.opencodeSessionId !== accepted.opencodeSessionId) {
        // Only possible if two instances disagreed about which run comes first; keep the first.
        log.warn({ orphan: accepted.opencodeSessionId, kept: kept.opencodeSessionId }, "session already mapped; aborting the new OpenCode session");
        void deps.sidecar.abort(sidecarUrl, accepted.opencodeSessionId, log).catch(() => undefined);
      }
    }
    return { placed: { opencodeSessionId: accepted.opencodeSessionId, sidecarUrl } };
  } catch (err) {
    return { refused: refusal(err, mapped) };
  }
}

/**
 * A hand-over that timed out may still have been accepted (the sidecar was only slow to say so):
 * asking for the run by its id tells, so a turn that is running is followed, not reported as never
 * started. Anything else rethrows the original error.
 */
async function acceptedAnyway(deps: DispatchDeps, sidecarUrl: string, runId: string, err: unknown, log: Logger): Promise<RunAccepted> {
  if (!(err instanceof SidecarUnavailable)) throw err;
  const known = await deps.sidecar.run(sidecarUrl, runId, log).catch(() => undefined);
  if (!known) throw err;
  log.info({ status: known.status }, "the sidecar had accepted the run after all");
  return { runId: known.runId, opencodeSessionId: known.opencodeSessionId, status: known.status };
}

/**
 * A few tries on an unreachable or slow sidecar: the run id makes a repeat safe (a sidecar that
 * did accept the first answers with that same run), and a first session in a new workspace or an
 * engine restarting may take longer than one request's bound.
 */
async function again<T>(call: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof SidecarUnavailable) || attempt >= attempts || err.data.reason.includes("circuit open")) throw err;
      await sleep(250 * attempt);
    }
  }
}

function refusal(err: unknown, mapped: { opencodeSessionId: string } | undefined): Ending {
  if (err instanceof SidecarRejected) {
    if (mapped && err.data.status === 404) {
      return {
        status: "failed",
        // The session had an agent context (now lost): its history and state say the run failed.
        opencodeSessionId: mapped.opencodeSessionId,
        reason: "the OpenCode session behind this conversation is gone from its sidecar; start a new session",
        error: { code: "opencode_session_lost", message: "the OpenCode session behind this conversation is gone from its sidecar; start a new session" },
      };
    }
    return {
      status: "failed",
      reason: `the sidecar refused the run: ${err.message}`,
      error: { code: err.data.code, message: err.message, status: err.data.status, ...(err.data.details !== undefined ? { details: err.data.details } : {}) },
    };
  }
  if (err instanceof SidecarUnavailable) {
    const reason = `the sidecar could not be reached (${err.data.reason}); nothing ran, send the prompt again`;
    return { status: "failed", reason, error: { code: "sidecar_unavailable", message: reason } };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: "failed", reason: `the run could not be started: ${message}`, error: { code: "dispatch_failed", message } };
}
