import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { Http, Text, Webhooks } from "@nubabel/contracts";
import { Logs, serverSpans } from "@nubabel/telemetry";
import type { Logger } from "../logger.js";
import { errorHandler, ValidationError } from "./errors.js";
import { bridgeRoutes, type BridgeRouteDeps } from "./routes/bridge.js";
import { healthRoutes, type HealthDeps } from "./routes/health.js";
import { runRoutes, type RunRouteDeps } from "./routes/runs.js";
import { sessionRoutes, type SessionRouteDeps } from "./routes/sessions.js";

declare module "fastify" {
  interface FastifyRequest {
    rawBody?: string;
  }
}

export interface ServerDeps extends SessionRouteDeps, RunRouteDeps, HealthDeps, BridgeRouteDeps {
  logger: Logger;
  secret: string;
  replayGuard: Webhooks.ReplayGuard;
  bodyLimit: number;
  /** Longest a client may take to send its whole request (headers and body); the answer is not bounded by it. */
  requestTimeoutMs: number;
  /** Called on the app before any route or hook is added: metrics hook in here. */
  instrument?(app: FastifyInstance): void;
}

/**
 * Request lines at debug for what comes all the time: the engine plugin's bridge calls (one per
 * tool call), Nubabel's heartbeats and run checks, scrapes. Errors are still logged.
 */
const QUIET = /^\/(internal\/bridge\/|health|runs\/|metrics)/;

/**
 * The sidecar's HTTP surface. Everything but `/health` and the plugin's loopback bridge must
 * carry a valid Standard Webhooks signature from Nubabel.
 */
export function buildServer(deps: ServerDeps) {
  const app = Fastify({
    // Typed as Fastify's base logger, so the app is a plain `FastifyInstance` shared helpers accept.
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new Logs.QuietRequests((url) => QUIET.test(url)),
    bodyLimit: deps.bodyLimit,
    ...Http.requestBounds(deps.requestTimeoutMs),
    // A path Fastify cannot decode (`%C0%AE`) or a parameter too long: a 400 naming the path.
    frameworkErrors: (err, req, reply) => errorHandler(new ValidationError(`path: ${err.message}`, { fields: ["(path)"] }), req, reply),
  });
  deps.instrument?.(app);
  // Signatures cover the exact bytes, so keep them before parsing; nesting is bounded before it.
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    req.rawBody = body as string;
    if (!body) return done(null, undefined);
    try {
      done(null, Text.parseJson(body as string));
    } catch (err) {
      done(new ValidationError(`body: ${(err as Error).message}`, { fields: ["(body)"] }), undefined);
    }
  });
  // The plugin's bridge calls carry no trace: the bridge continues the turn's itself.
  serverSpans(app, { tracer: "sidecar.http", skip: (route) => route === "/health" || route.startsWith("/internal/") });
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: "not_found", message: `no route ${req.method} ${req.url}` } });
  });

  app.register(healthRoutes(deps));
  app.register(bridgeRoutes(deps));
  app.register(async (signed) => {
    signed.addHook("preHandler", async (req) => {
      const route = { direction: "nubabel-to-sidecar", method: req.method, path: req.url } as const;
      try {
        await Webhooks.verify(deps.secret, route, req.rawBody ?? "", req.headers as Record<string, string>, deps.replayGuard);
      } catch (err) {
        // Worded as Nubabel words it, so a refusal reads the same whichever side gave it.
        if (err instanceof Webhooks.SignatureError) throw new Webhooks.SignatureError(`signature refused: ${err.message}`);
        throw err;
      }
    });
    await signed.register(sessionRoutes(deps));
    await signed.register(runRoutes(deps));
  });
  return app;
}
