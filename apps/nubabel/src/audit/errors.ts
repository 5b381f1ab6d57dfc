import { NubabelError } from "../errors.js";

/** A `cursor` that no page of `GET /api/audit` handed out (400, naming `cursor`). */
export class AuditCursorInvalid extends NubabelError<{ fields: string[] }> {
  override readonly name = "AuditCursorInvalid" as const;
  constructor() {
    super("invalid query: cursor: is not a cursor this API returned", { fields: ["cursor"] });
  }
}
