import type { FastifyInstance } from "fastify";
import { document, renderPage } from "../openapi/index.js";

/**
 * `GET /openapi.json` and `GET /docs` (no auth, like `/health`): the API's OpenAPI 3.1 document,
 * built from the contracts, and a page to read it. Both are built once, on first request.
 */
export function referenceRoutes(app: FastifyInstance): void {
  let json: string | undefined;
  let html: string | undefined;

  app.get("/openapi.json", async (_request, reply) => {
    json ??= JSON.stringify(document());
    return reply.type("application/json; charset=utf-8").send(json);
  });

  app.get("/docs", async (_request, reply) => {
    html ??= renderPage(document());
    return reply.type("text/html; charset=utf-8").header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'").send(html);
  });
}
