import { randomUUID } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from "fastify";
import { Http, Text } from "@nubabel/contracts";
import { Logs, serverSpans } from "@nubabel/telemetry";
import type { HttpDeps } from "./deps.js";
import { handleError, InvalidRequest } from "./errors.js";
import { adminRoutes } from "./routes/admin.js";
import { auditRoutes } from "./routes/audit.js";
import { callbackRoutes } from "./routes/callbacks.js";
import { apiKeyRoutes } from "./routes/api-keys.js";
import { approvalRoutes } from "./routes/approvals.js";
import { connectionRoutes } from "./routes/connections.js";
import { consoleRoutes } from "./routes/console.js";
import { healthRoutes } from "./routes/health.js";
import { publicRoutes } from "./routes/public.js";
import { referenceRoutes } from "./routes/reference.js";
import { streamRoutes } from "./routes/stream.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { usageRoutes } from "./routes/usage.js";

/**
 * Request lines at debug: the sidecar's callbacks (a busy run posts hundreds), probes and scrapes.
 * At info they drowned what a person looks for and cost a sixth of the throughput under load.
 * Failures are still logged, by the error handler. A client's SSE stream stays at info.
 */
const QUIET = /^\/(api\/sidecar\/(?!sessions\/[^/?]+\/stream)|health|livez|readyz|metrics)/;

/** Builds the Fastify app with every route; the caller listens and closes. */
export function createServer(deps: HttpDeps, options: { onRoute?: (route: RouteOptions) => void } = {}): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger.child({ module: "http" }) as FastifyBaseLogger,
    bodyLimit: deps.config.bodyLimit,
    ...Http.requestBounds(deps.config.requestTimeoutMs),
    requestIdHeader: "x-request-id",
    logController: new Logs.QuietRequests((url) => QUIET.test(url), "requestId"),
    genReqId: () => `req_${randomUUID().replace(/-/g, "")}`,
    // Idle keep-alive sockets close at once; requests in flight get `main.ts`'s grace period.
    forceCloseConnections: "idle",
    // A path Fastify cannot decode (`%C0%AE`) or a parameter too long: a 400 naming the path.
    frameworkErrors: (err, request, reply) => handleError(new InvalidRequest(`invalid path: ${err.message}`, ["path"]), request, reply),
  });
  // Before any route, so whoever asks sees every one (the OpenAPI test compares them with the document).
  const onRoute = options.onRoute;
  if (onRoute) app.addHook("onRoute", (route) => onRoute(route));
  deps.instrument?.(app);
  // While stopping, answers close their connection, so a keep-alive socket does not hold the
  // server open once its request in flight is done.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
    if (closing) reply.header("connection", "close");
  });
  // Many HTTP clients label every request JSON: an empty body so labelled is no body, not an error
  // (a POST that needs one is then refused by its schema, naming the fields it lacks).
  app.addHook("onRequest", async (request) => {
    const empty = !request.headers["transfer-encoding"] && Number(request.headers["content-length"] ?? 0) === 0;
    if (empty) delete request.headers["content-type"];
  });
  // The contracts' parser, as the sidecar and the callbacks use: nesting bounded before parsing (a
  // deeply nested body would overflow the stack of whatever walks it next), prototype poisoning
  // refused, and its message saying which of these it was (Fastify's own says "not valid JSON" to all).
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, raw, done) => {
    const body = raw as string;
    if (!body) return done(new InvalidRequest("invalid body: body: must not be empty", ["body"]), undefined);
    try {
      done(null, Text.parseJson(body));
    } catch (err) {
      done(new InvalidRequest(`invalid body: body: ${(err as Error).message}`, ["body"]), undefined);
    }
  });
  // Health checks and progress streams are not worth a span; everything else is one.
  serverSpans(app, { tracer: "nubabel.http", skip: (route) => route === "/health" || route.endsWith("/stream") });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` } });
  });

  healthRoutes(app, deps);
  referenceRoutes(app);
  consoleRoutes(app);
  publicRoutes(app, deps);
  approvalRoutes(app, deps);
  streamRoutes(app, deps);
  if (deps.connections) connectionRoutes(app, deps, deps.connections);
  auditRoutes(app, deps);
  if (deps.webhooks) webhookRoutes(app, deps, deps.webhooks);
  usageRoutes(app, deps);
  apiKeyRoutes(app, deps, deps.apiKeys);
  void app.register(async (scope) => callbackRoutes(scope, deps));
  if (deps.admin) {
    const secret = deps.admin.secret;
    void app.register(async (scope) => adminRoutes(scope, deps, secret));
  }
  return app;
}
