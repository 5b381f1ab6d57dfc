import { NubabelError } from "../errors.js";

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

/** Another request is still creating this session's OpenCode session and did not finish in time. */
export class DelegationBusy extends NubabelError<{ sessionId: string }> {
  override readonly name = "DelegationBusy";
  constructor(sessionId: string) {
    super(`session ${sessionId} is still being started by another request; try again`, { sessionId });
  }
}
