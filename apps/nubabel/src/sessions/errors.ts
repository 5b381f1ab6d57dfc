import { NubabelError } from "../errors.js";

/** No such session for this organization (also for another organization's session). */
export class SessionNotFound extends NubabelError<{ sessionId: string }> {
  override readonly name = "SessionNotFound";
  constructor(sessionId: string) {
    super(`session ${sessionId} not found`, { sessionId });
  }
}
