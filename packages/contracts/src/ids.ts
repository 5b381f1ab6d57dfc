import { randomBytes } from "node:crypto";
import { z } from "zod";
import { segment } from "./text.js";

/**
 * Ids carry a prefix so a misplaced one is caught at the boundary
 * (an organization id where a connection id belongs, and so on).
 */
export const Prefix = {
  organization: "org",
  session: "ses",
  connection: "conn",
  apiKey: "nbk",
  apiKeyId: "key",
  message: "msg",
  run: "run",
  approval: "apr",
  audit: "aud",
  webhook: "whk",
  delivery: "dlv",
} as const;
export type Prefix = (typeof Prefix)[keyof typeof Prefix];

/** A new random id: `<prefix>_<26 base32 chars>` (130 bits), sortable only by chance. */
export function create(prefix: Prefix): string {
  const alphabet = "0123456789abcdefghjkmnpqrstvwxyz";
  const bytes = randomBytes(26);
  let out = "";
  for (const b of bytes) out += alphabet[b % 32];
  return `${prefix}_${out}`;
}

/** Schema for an id of the given prefix. */
export function schema(prefix: Prefix) {
  return z
    .string()
    .regex(new RegExp(`^${prefix}_[A-Za-z0-9]{1,64}$`), `must be an id starting with "${prefix}_"`);
}

/**
 * A Nubabel session id. Callers may bring their own (a Slack thread is one), so the
 * shape is looser than a prefixed id: printable, URL-safe, bounded.
 */
export const SessionId = segment(
  z
    .string()
    .min(1)
    .max(200)
    .regex(/^[A-Za-z0-9._:-]+$/, "may contain only letters, digits and . _ : -"),
);
export type SessionId = z.infer<typeof SessionId>;

export const OrganizationId = schema(Prefix.organization);
export type OrganizationId = z.infer<typeof OrganizationId>;

/** An API key's id, to list and revoke it by (never the key itself): `key_…`. */
export const ApiKeyId = schema(Prefix.apiKeyId);
export type ApiKeyId = z.infer<typeof ApiKeyId>;

/** A run (one turn of a session, from acceptance to its answer): `run_…`. */
export const RunId = schema(Prefix.run);
export type RunId = z.infer<typeof RunId>;

/** An organization's webhook endpoint: `whk_…`. */
export const WebhookId = schema(Prefix.webhook);
export type WebhookId = z.infer<typeof WebhookId>;

/** One event for one webhook endpoint, across its attempts; also its `webhook-id` header: `dlv_…`. */
export const DeliveryId = schema(Prefix.delivery);
export type DeliveryId = z.infer<typeof DeliveryId>;

/** A person's yes or no to one tool call of a run: `apr_…`. */
export const ApprovalId = schema(Prefix.approval);
export type ApprovalId = z.infer<typeof ApprovalId>;

/**
 * An OpenCode session id as the engine issues them (`ses_…`): anything else is refused with a 400
 * before the engine is asked, and a well-formed id the engine does not know is a 404.
 */
export const OpencodeSessionId = z
  .string()
  .min(5)
  .max(200)
  .regex(/^ses_[A-Za-z0-9_-]+$/, "is not an OpenCode session id (ses_…)");
export type OpencodeSessionId = z.infer<typeof OpencodeSessionId>;
