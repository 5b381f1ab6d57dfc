import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { type ErrorBody, Webhooks } from "@nubabel/contracts";
import { BridgeError } from "../bridge/bridge.js";
import { UnknownSelectionError } from "../catalog/catalog.js";
import { EngineDownError } from "../engine/engine.js";
import { DrainingError, NoModelError, PluginMissingError, QueueFullError, RunNotFoundError, SessionNotFoundError } from "../runs/errors.js";
import { StoreUnavailableError } from "../runs/run-store.js";

/** A request that failed validation; `field` names what was wrong. */
export class ValidationError extends Error {
  override readonly name = "ValidationError";
  constructor(
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export class UnauthorizedError extends Error {
  override readonly name = "UnauthorizedError";
}

/** The one table from error to HTTP status and code. Anything else is a logged 500. */
const TABLE: Array<[new (...args: never[]) => Error, number, string]> = [
  [ValidationError, 400, "invalid_request"],
  [UnknownSelectionError, 400, "unknown_selection"],
  [UnauthorizedError, 401, "unauthorized"],
  [Webhooks.SignatureError, 401, "invalid_signature"],
  [SessionNotFoundError, 404, "session_not_found"],
  [RunNotFoundError, 404, "run_not_found"],
  [QueueFullError, 429, "queue_full"],
  [EngineDownError, 503, "engine_unavailable"],
  [NoModelError, 503, "no_model_configured"],
  [DrainingError, 503, "draining"],
  [PluginMissingError, 503, "plugin_not_loaded"],
  [StoreUnavailableError, 503, "store_unavailable"],
];

export function errorHandler(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply): void {
  const body = (code: string, message: string, details?: unknown): ErrorBody => ({
    error: { code, message, ...(details !== undefined ? { details } : {}) },
  });
  if (err instanceof BridgeError) {
    void reply.status(err.status).send(body("bridge_error", err.message));
    return;
  }
  for (const [type, status, code] of TABLE) {
    if (err instanceof type) {
      const details =
        err instanceof ValidationError
          ? err.details
          : err instanceof UnknownSelectionError
            ? { field: err.field, known: err.known }
            : err instanceof SessionNotFoundError
              ? { field: "opencodeSessionId" }
              : err instanceof RunNotFoundError
                ? { field: "runId" }
                : undefined;
      // A 5xx here is the engine or a store failing (a timeout, a restart): an operator wants to see it.
      if (status >= 500) req.log.warn({ errorCode: code, err: err.message }, "request refused");
      void reply.status(status).send(body(code, err.message, details));
      return;
    }
  }
  const fastifyErr = err as FastifyError;
  if (fastifyErr.statusCode && fastifyErr.statusCode < 500) {
    void reply.status(fastifyErr.statusCode).send(body(fastifyErr.code ?? "bad_request", fastifyErr.message, { fields: ["(body)"] }));
    return;
  }
  req.log.error({ err }, "unhandled error");
  void reply.status(500).send(body("internal", "internal error"));
}
