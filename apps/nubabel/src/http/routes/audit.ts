import type { FastifyInstance } from "fastify";
import { AuditQuery, type AuditPage } from "@nubabel/contracts";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parseQuery } from "../errors.js";

/**
 * `GET /api/audit`: the organization's audit trail, oldest first, a page at a time. The
 * organization is the API key's; no filter reaches another organization's entries.
 */
export function auditRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get("/api/audit", async (request): Promise<AuditPage> => {
    const org = await authorizeApiKey(deps, request);
    const query = parseQuery(AuditQuery, request.query);
    return deps.audit.list(org.id, query);
  });
}
