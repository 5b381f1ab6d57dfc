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
    super(`this organization already has ${data.queued} runs waiting (limit ${data.limit}); try again when some finish`, data);
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
