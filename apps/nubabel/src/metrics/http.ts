import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { Metrics } from "@nubabel/telemetry";
import type { NubabelMetrics } from "./metrics.js";

/** Callback routes by their pattern, so a kind label comes from a lookup, not from parsing URLs. */
const CALLBACK_KINDS: Record<string, string> = {
  "/api/sidecar/sessions/:sessionId/update": "update",
  "/api/sidecar/sessions/:sessionId/progress": "progress",
  "/api/sidecar/sessions/:sessionId/result": "result",
  "/api/sidecar/mcp/invoke": "mcp_invoke",
  "/api/sidecar/mcp/list": "mcp_list",
};
const STREAM_ROUTE = "/api/sidecar/sessions/:sessionId/stream";

/**
 * HTTP requests by route and status class, callbacks by kind and result, and open SSE streams,
 * from Fastify's hooks: the routes themselves know nothing of metrics. Call before routes are added.
 */
export function instrumentHttp(app: FastifyInstance, registry: Registry, m: NubabelMetrics): void {
  Metrics.countRequests(app, registry, "nubabel_http_requests_total", (route, _request, reply) => {
    const kind = CALLBACK_KINDS[route];
    if (kind) m.callbacks.inc({ kind, result: reply.statusCode < 400 ? "ok" : reply.statusCode < 500 ? "refused" : "error" });
  });
  app.addHook("onRequest", async (request, reply) => {
    if (request.routeOptions.url !== STREAM_ROUTE) return;
    m.sse.inc();
    reply.raw.once("close", () => m.sse.dec());
  });
}
