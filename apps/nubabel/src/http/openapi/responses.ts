import { ErrorBody } from "@nubabel/contracts";
import { z } from "zod";
import type { ZodOpenApiRequestBodyObject, ZodOpenApiResponseObject, ZodOpenApiResponsesObject } from "zod-openapi";

/**
 * Helpers that keep each operation of the document short, and type every example by the schema it
 * illustrates: a request's example by what the schema accepts, a response's by what it yields.
 */

/** The security requirements, named for `components.securitySchemes` in `document.ts`. */
export const Auth = {
  /** `Authorization: Bearer nbk_…`: an organization's API key. */
  apiKey: [{ apiKey: [] }],
  /** The API key, or a stream token in `?token=` (browsers' EventSource cannot send headers). */
  apiKeyOrStreamToken: [{ apiKey: [] }, { streamToken: [] }],
  /** Both: the Standard Webhooks signature and the delegation's capability token. */
  signed: [{ webhookSignature: [], callbackToken: [] }],
  /** Public: probes and this reference. */
  none: [],
} as const satisfies Record<string, Array<Record<string, never[]>>>;

/** A JSON request body with its example. */
export function body<S extends z.ZodType>(schema: S, example: z.input<S>): ZodOpenApiRequestBodyObject {
  return { required: true, content: { "application/json": { schema, example } } };
}

/** A JSON response with its example. */
export function answer<S extends z.ZodType>(description: string, schema: S, example: z.output<S>, extra: Omit<ZodOpenApiResponseObject, "description" | "content"> = {}): ZodOpenApiResponseObject {
  return { description, content: { "application/json": { schema, example } }, ...extra };
}

function error(id: string, description: string, example: ErrorBody, extra: Omit<ZodOpenApiResponseObject, "description" | "content"> = {}): ZodOpenApiResponseObject {
  return { id, ...answer(description, ErrorBody, example), ...extra };
}

/** Errors every route may answer, by status; each a component, so the document says it once. */
const COMMON = {
  400: error("InvalidRequest", "The request fails its schema: `details.fields` names each bad field.", {
    error: { code: "invalid_request", message: "invalid body: prompt: must not be empty (or only spaces)", details: { fields: ["prompt"] } },
  }),
  401: error("Unauthorized", "No credential, or one that is refused; `message` says why.", {
    error: { code: "unauthorized", message: "invalid API key", details: { reason: "invalid API key" } },
  }),
  429: error(
    "RateLimited",
    "Too many requests for this key (`rate_limited`), or too many runs waiting for the organization (`queue_full`). Retry after `Retry-After` seconds.",
    { error: { code: "rate_limited", message: "rate limit exceeded (api key)", details: { retryAfterMs: 21000, scope: "api key" } } },
    { headers: z.object({ "retry-after": z.int().positive().meta({ description: "Seconds to wait before retrying." }) }) },
  ),
  503: error(
    "Unavailable",
    "Something this request needs is down (`database_unavailable`, `dependency_unavailable`, `sidecar_unavailable`); try again shortly. Or the sidecar is set up wrong (`no_model_configured`, `plugin_not_loaded`): `message` names what to set, and asking again changes nothing until someone does.",
    { error: { code: "database_unavailable", message: "database unavailable; try again shortly" } },
  ),
} as const;

type Common = keyof typeof COMMON;

/** The common errors by status, plus any route-specific ones (`notFound`, …). */
export function errors(statuses: Common[], specific: ZodOpenApiResponsesObject = {}): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const status of statuses) out[`${status}`] = COMMON[status];
  return { ...out, ...specific };
}

/** A 404 for a resource the caller's organization does not have (another organization's is answered alike). */
export function notFound(code: string, message: string): ZodOpenApiResponsesObject {
  return { 404: answer(`Not found, or owned by another organization: \`${code}\`.`, ErrorBody, { error: { code, message } }) };
}

/** A 403 for a signed callback bound to another session or organization than its token. */
export function forbidden(code: string, message: string, field: string): ZodOpenApiResponsesObject {
  return { 403: answer("The capability token is bound to another session or organization; nothing ran.", ErrorBody, { error: { code, message, details: { code, field } } }) };
}
