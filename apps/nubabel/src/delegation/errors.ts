import { NubabelError } from "../errors.js";

/** Another request is still creating this session's OpenCode session and did not finish in time. */
export class DelegationBusy extends NubabelError<{ sessionId: string }> {
  override readonly name = "DelegationBusy";
  constructor(sessionId: string) {
    super(`session ${sessionId} is still being started by another request; try again`, { sessionId });
  }
}
