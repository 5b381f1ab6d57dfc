import { timingSafeEqual, createHash } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { collectDefaultMetrics, Counter, Registry } from "prom-client";
import { QuietRequests } from "./logs.js";

/** A fresh registry (one per service instance, so tests may run several) with the process's own metrics. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** How `/metrics` is exposed: off without a token; on its own listener when a port is given. */
export interface MetricsOptions {
  registry: Registry;
  token: string | undefined;
  host: string | undefined;
  port: number | undefined;
}

export interface MetricsLog {
  info(obj: object, msg: string): void;
}

/** Compares through fixed-length digests, so neither the length nor a prefix of the token leaks. */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer (.+)$/i.exec(header ?? "")?.[1] ?? "";
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(token));
}

/** The route; registered on whichever app serves it. */
function metricsRoute(app: FastifyInstance, registry: Registry, token: string): void {
  app.get("/metrics", async (request: FastifyRequest, reply: FastifyReply) => {
    if (!tokenMatches(request.headers.authorization, token)) {
      return reply
        .status(401)
        .header("www-authenticate", "Bearer")
        .send({ error: { code: "unauthorized", message: "metrics need Authorization: Bearer <METRICS_TOKEN>" } });
    }
    return reply.header("content-type", registry.contentType).send(await registry.metrics());
  });
}

/**
 * Serves `GET /metrics` as `opts` says: on `app` (the main listener), on a listener of its own
 * (`METRICS_PORT`), or not at all (no `METRICS_TOKEN`: metrics are never public by accident).
 * Call before `app` listens. Returns what stops the separate listener, if any.
 */
export async function serveMetrics(app: FastifyInstance, opts: MetricsOptions, log: MetricsLog): Promise<{ url?: string; close(): Promise<void> }> {
  if (!opts.token) {
    log.info({}, "metrics off: set METRICS_TOKEN to serve GET /metrics");
    return { close: async () => undefined };
  }
  if (opts.port === undefined) {
    metricsRoute(app, opts.registry, opts.token);
    log.info({ listener: "main" }, "metrics at GET /metrics (bearer token)");
    return { close: async () => undefined };
  }
  const own = Fastify({ loggerInstance: app.log, logController: new QuietRequests(() => true) });
  own.setNotFoundHandler((request, reply) => void reply.status(404).send({ error: { code: "not_found", message: `no route ${request.method} ${request.url.split("?")[0]}` } }));
  metricsRoute(own, opts.registry, opts.token);
  const host = opts.host ?? "127.0.0.1";
  await own.listen({ host, port: opts.port });
  const address = own.server.address();
  const port = typeof address === "object" && address ? address.port : opts.port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  log.info({ url }, "metrics at GET /metrics on their own listener (bearer token)");
  return { url, close: () => own.close() };
}

/** `2xx`, `4xx`…: a label with five values where the status code would have sixty. */
export function statusClass(code: number): string {
  return `${Math.floor(code / 100)}xx`;
}

/**
 * Counts every answered request by method, route pattern (`/api/runs/:runId`, never the raw URL;
 * `unmatched` for a 404 without a route) and status class, with `extra` for what an app derives
 * from the same request (callbacks by kind). One hook, no allocation beyond the label lookup.
 */
export function countRequests(
  app: FastifyInstance,
  registry: Registry,
  name: string,
  extra?: (route: string, request: FastifyRequest, reply: FastifyReply) => void,
): void {
  const requests = new Counter({ name, help: "HTTP requests answered, by route pattern and status class", labelNames: ["method", "route", "status"], registers: [registry] });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    requests.inc({ method: request.method, route, status: statusClass(reply.statusCode) });
    extra?.(route, request, reply);
  });
}

/**
 * Keeps a label's values bounded when they come from outside (an MCP provider's name): the first
 * `max` distinct values are kept as they are, any later one becomes `other`.
 */
export function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= max) return "other";
    seen.add(value);
    return value;
  };
}
