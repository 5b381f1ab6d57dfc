import { z } from "zod";
import { ApiKeyId } from "./ids.js";
import { line } from "./text.js";

/**
 * An organization's API keys (`/api/keys`, and the operator's `nubabel org keys`). A key is shown
 * once, when it is made; afterwards only its id and `prefix` (its first ten characters) tell it
 * apart. A revoked key stays listed, with `revokedAt`, and never works again.
 */

/** How many unrevoked keys an organization may hold at once. */
export const MAX_API_KEYS = 20;
/** How many revoked keys are kept (and listed), the latest revoked; older ones are deleted as keys are made. */
export const KEPT_REVOKED_API_KEYS = 100;

export const ApiKeyView = z.object({
  id: ApiKeyId,
  /** The key's first ten characters (`nbk_` and six more), enough to recognise it. */
  prefix: z.string(),
  /** What the key is for, as given when it was made. */
  name: z.string().optional(),
  createdAt: z.iso.datetime(),
  revokedAt: z.iso.datetime().optional(),
  /** True for the key that authorized this request (`GET /api/keys` only). */
  current: z.boolean().optional(),
});
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** `GET /api/keys`: every key, oldest first, revoked ones included. */
export const ApiKeyList = z.object({ keys: z.array(ApiKeyView) });
export type ApiKeyList = z.infer<typeof ApiKeyList>;

/** `POST /api/keys` body: an optional name, to tell the key apart later. */
export const CreateApiKeyRequest = z.strictObject({ name: line(100).optional() });
export type CreateApiKeyRequest = z.infer<typeof CreateApiKeyRequest>;

/** `POST /api/keys` answer: the key itself (`apiKey`), shown this once. */
export const ApiKeyCreated = ApiKeyView.extend({ apiKey: z.string() });
export type ApiKeyCreated = z.infer<typeof ApiKeyCreated>;

/** `POST /api/keys/:keyId/revoke` answer (also for a key revoked before: same `revokedAt`). */
export const ApiKeyRevoked = z.object({ id: ApiKeyId, revokedAt: z.iso.datetime() });
export type ApiKeyRevoked = z.infer<typeof ApiKeyRevoked>;
