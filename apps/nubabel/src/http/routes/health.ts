import type { FastifyInstance } from "fastify";
import type { HttpDeps } from "../deps.js";

/**
 * `GET /health` (no auth): database, Redis and sidecar. 503 only when the database is down, the
 * one thing nothing works without; a down Redis or sidecar shows as `degraded`.
 */
export function healthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get("/health", async (_request, reply) => {
    const report = await deps.health();
    const healthy = report.database.ok && report.redis.ok && report.sidecar.ok;
    return reply
      .status(report.database.ok ? 200 : 503)
      .send({ status: healthy ? "healthy" : report.database.ok ? "degraded" : "unhealthy", ...report });
  });
}
