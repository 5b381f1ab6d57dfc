import { NubabelError } from "../errors.js";

/**
 * A request to the Slack events endpoint that did not come from Slack: missing, malformed, stale or
 * wrong signature. Answered 401 with no detail beyond `reason` in the logs.
 */
export class SlackSignatureInvalid extends NubabelError<{ reason: string }> {
  override readonly name = "SlackSignatureInvalid";
  constructor(reason: string) {
    super("invalid Slack request signature", { reason });
  }
}

/** A signed request whose body is not an Events API payload (answered 400). */
export class SlackPayloadInvalid extends NubabelError<{ reason: string }> {
  override readonly name = "SlackPayloadInvalid";
  constructor(reason: string) {
    super("unreadable Slack request body", { reason });
  }
}
