import { NubabelError } from "../errors.js";

/** No such session for this organization (also for another organization's session). */
export class SessionNotFound extends NubabelError<{ sessionId: string }> {
  override readonly name = "SessionNotFound";
  constructor(sessionId: string) {
    super(`session ${sessionId} not found`, { sessionId });
  }
}

/** A `cursor` that no page of `GET /api/sessions` handed out (400, naming `cursor`). */
export class SessionCursorInvalid extends NubabelError<{ fields: string[] }> {
  override readonly name = "SessionCursorInvalid" as const;
  constructor() {
    super("invalid query: cursor: is not a cursor this API returned", { fields: ["cursor"] });
  }
}
