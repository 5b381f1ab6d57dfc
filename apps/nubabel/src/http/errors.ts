import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { describeIssues, type ErrorBody } from "@nubabel/contracts";
import type { z } from "zod";
import { isUnavailable } from "../db/database.js";
import { NubabelError } from "../errors.js";

/** No or bad credentials (API key, signature, capability token). */
export class Unauthorized extends NubabelError<{ reason: string }> {
  override readonly name = "Unauthorized";
  constructor(reason: string) {
    super(reason, { reason });
  }
}

/** Authenticated, but bound to another organization or session; `field` names what differs. */
export class Forbidden extends NubabelError<{ code: string; field?: string }> {
  override readonly name = "Forbidden";
  constructor(code: string, message: string, field?: string) {
    super(message, { code, ...(field ? { field } : {}) });
  }
}

/** A request that fails its schema; `fields` names what is wrong. */
export class InvalidRequest extends NubabelError<{ fields: string[] }> {
  override readonly name = "InvalidRequest";
  constructor(message: string, fields: string[]) {
    super(message, { fields });
  }
}

export class RateLimited extends NubabelError<{ retryAfterMs: number; scope: string }> {
  override readonly name = "RateLimited";
  constructor(scope: string, retryAfterMs: number) {
    super(`rate limit exceeded (${scope})`, { retryAfterMs, scope });
  }
}

/** A dependency this request needs (Redis for replay protection, say) is down. */
export class DependencyUnavailable extends NubabelError<{ dependency: string }> {
  override readonly name = "DependencyUnavailable";
  constructor(dependency: string) {
    super(`${dependency} unavailable`, { dependency });
  }
}

/** Parses `value` with `schema` or throws `InvalidRequest` naming each bad field. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where = "body"): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const { message, fields } = describeIssues(parsed.error);
  throw new InvalidRequest(`invalid ${where}: ${message}`, fields);
}

/**
 * `parse` for a query string. A parameter given twice arrives as an array, which no query here
 * takes and every schema would misread ("expected number, received NaN"): it is refused by name.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  for (const [name, value] of Object.entries(query ?? {})) {
    if (Array.isArray(value)) throw new InvalidRequest(`invalid query: ${name}: must be given once`, [name]);
  }
  return parse(schema, query, "query");
}

type Row = {
  status: number | ((e: NubabelError<unknown>) => number);
  code: string | ((e: NubabelError<unknown>) => string);
  /** What the client sees as `details`; the error's data when absent. */
  details?: (e: NubabelError<unknown>) => unknown;
};

/** The one table from typed errors to HTTP. Names not listed here are a logged 500. */
const TABLE: Record<string, Row> = {
  InvalidRequest: { status: 400, code: "invalid_request" },
  Unauthorized: { status: 401, code: "unauthorized" },
  Forbidden: { status: 403, code: (e) => (e.data as { code: string }).code },
  SessionNotFound: { status: 404, code: "session_not_found" },
  OrganizationNotFound: { status: 404, code: "organization_not_found" },
  ApiKeyNotFound: { status: 404, code: "api_key_not_found" },
  LastApiKey: { status: 409, code: "last_api_key" },
  TooManyApiKeys: { status: 409, code: "too_many_api_keys" },
  McpConnectionNotFound: { status: 404, code: "connection_not_found" },
  ConnectionNotFound: { status: 404, code: "connection_not_found" },
  McpProviderNotFoundError: { status: 404, code: "provider_not_found" },
  McpToolNotFoundError: { status: 404, code: "tool_not_found" },
  McpConnectionInvalidError: {
    status: 400,
    code: "invalid_request",
    details: (e) => ({ field: (e.data as { field: string }).field, fields: [(e.data as { field: string }).field], reason: (e.data as { reason: string }).reason }),
  },
  McpConnectionNameTaken: { status: 409, code: "connection_name_taken" },
  McpTimeoutError: { status: 504, code: "mcp_timeout" },
  McpConnectionError: { status: 502, code: "mcp_unavailable" },
  // Stored credentials that the configured keys cannot open: an operator's problem, said plainly.
  UnknownKeyError: { status: 500, code: "credentials_unreadable" },
  DecryptError: { status: 500, code: "credentials_unreadable" },
  AuditCursorInvalid: { status: 400, code: "invalid_request" },
  SessionCursorInvalid: { status: 400, code: "invalid_request" },
  RunNotFound: { status: 404, code: "run_not_found" },
  RunQueueFull: { status: 429, code: "queue_full" },
  // 402: the request is fine and may succeed later, once the month turns or the cap is raised.
  BudgetExceeded: { status: 402, code: "budget_exceeded" },
  ApprovalNotFound: { status: 404, code: "approval_not_found" },
  ApprovalAlreadyDecided: { status: 409, code: "approval_decided" },
  NotAnApprover: { status: 403, code: "not_an_approver" },
  WebhookNotFound: { status: 404, code: "webhook_not_found" },
  WebhookDeliveryNotFound: { status: 404, code: "delivery_not_found" },
  WebhookUrlRefused: {
    status: 400,
    code: "invalid_request",
    details: (e) => ({ field: "url", fields: ["url"], reason: (e.data as { reason: string }).reason }),
  },
  OpencodeSessionLost: { status: 409, code: "opencode_session_lost" },
  RateLimited: { status: 429, code: "rate_limited" },
  SidecarRejected: {
    status: (e) => (e.data as { status: number }).status,
    code: (e) => (e.data as { code: string }).code,
    details: (e) => (e.data as { details?: unknown }).details,
  },
  SidecarProtocolError: { status: 502, code: "sidecar_protocol_error" },
  SidecarUnavailable: { status: 503, code: "sidecar_unavailable" },
  DependencyUnavailable: { status: 503, code: "dependency_unavailable" },
};

/** Fastify's own client errors, by their code. */
const FASTIFY: Record<string, { code: string; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "body_too_large", message: "body: larger than this server takes (BODY_LIMIT_BYTES)" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "unsupported_media_type", message: "body: send it as JSON, with content-type: application/json" },
};

/** Sends `{ error: { code, message, details } }` for any thrown error. */
export function handleError(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  if (err instanceof NubabelError && TABLE[err.name]) {
    const row = TABLE[err.name]!;
    const status = typeof row.status === "function" ? row.status(err) : row.status;
    const code = typeof row.code === "function" ? row.code(err) : row.code;
    if (err instanceof RateLimited) reply.header("retry-after", Math.ceil(err.data.retryAfterMs / 1000));
    if (err.name === "RunQueueFull") reply.header("retry-after", (err.data as { retryAfterSeconds: number }).retryAfterSeconds);
    const level = status >= 500 ? "warn" : "info";
    request.log[level]({ errorCode: code, status }, err.message);
    void reply.status(status).send(body(code, err.message, row.details ? row.details(err) : err.data));
    return;
  }
  const fe = err as FastifyError;
  if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
    const known = fe.code ? FASTIFY[fe.code] : undefined;
    const message = known?.message ?? (fe.code === "FST_ERR_VALIDATION" ? fe.message : fe.message.replace(/^Body/, "body"));
    void reply.status(fe.statusCode).send(body(known?.code ?? "bad_request", message, { fields: ["body"] }));
    return;
  }
  if (isUnavailable(err)) {
    request.log.warn({ err: err.message }, "database unavailable");
    void reply.status(503).send(body("database_unavailable", "database unavailable; try again shortly"));
    return;
  }
  request.log.error({ err }, "unhandled error");
  void reply.status(500).send(body("internal_error", "internal error"));
}

function body(code: string, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, ...(details === undefined ? {} : { details }) } };
}
