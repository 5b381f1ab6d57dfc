import { NubabelError } from "../errors.js";

/** No such run for this organization (also for another organization's run). */
export class RunNotFound extends NubabelError<{ runId: string }> {
  override readonly name = "RunNotFound";
  constructor(runId: string) {
    super(`run ${runId} not found`, { runId });
  }
}

/** The organization already has as many runs waiting as it may: try again later. */
export class RunQueueFull extends NubabelError<{ running: number; queued: number; limit: number; retryAfterSeconds: number }> {
  override readonly name = "RunQueueFull";
  constructor(data: { running: number; queued: number; limit: number; retryAfterSeconds: number }) {
    // Runs wait beyond those running, so `queued` alone may pass `limit` while fewer run: the bound is on both.
    super(
      `this organization already has ${data.running + data.queued} unfinished runs (${data.running} running, ${data.queued} waiting), as many as it may (ORG_MAX_RUNNING + ORG_MAX_QUEUED); try again when some finish`,
      data,
    );
  }
}

/**
 * The sidecar no longer knows the OpenCode session this Nubabel session is mapped to (its engine
 * data was lost). Not a 404: the caller's session exists; its agent context does not.
 */
export class OpencodeSessionLost extends NubabelError<{ sessionId: string; opencodeSessionId: string; sidecarUrl: string }> {
  override readonly name = "OpencodeSessionLost";
  constructor(sessionId: string, opencodeSessionId: string, sidecarUrl: string) {
    super(`the OpenCode session behind ${sessionId} is gone from its sidecar; start a new session`, { sessionId, opencodeSessionId, sidecarUrl });
  }
}
