import { AuditPage, AuditQuery } from "@nubabel/contracts";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import * as Example from "./examples.js";
import { answer, Auth, errors } from "./responses.js";

/** `/api/audit`: what was done with the organization's tools and credentials, and by whom. */
export const auditPaths: ZodOpenApiPathsObject = {
  "/api/audit": {
    get: {
      tags: ["audit"],
      operationId: "listAudit",
      summary: "The organization's audit trail: tool calls, approval decisions, changes to its settings, key rotations",
      description: [
        "Entries oldest first, `limit` at a time (100 by default, at most 500). While more follow, the page has `nextCursor`: pass it back as `cursor`, with the same filters, for the next page.",
        "`from` (inclusive) and `to` (exclusive) are ISO times; `sessionId` and `runId` narrow to one conversation or one run. An entry names who acted (`agent`, `api`, `operator`, `slack:<user>`), what (`action`, `tool`, `provider`, `connectionId`) and how it went (`status`, `durationMs`, a short `detail`); never credentials, a webhook's signing secret or a tool call's arguments. Changes to connections, API keys, the approval policy, the budget and webhook endpoints are each an entry of their `kind`.",
        "Entries older than the server's retention (`AUDIT_RETENTION_DAYS`, 90 days by default) are removed.",
      ].join("\n\n"),
      security: Auth.apiKey,
      requestParams: { query: AuditQuery },
      responses: {
        200: answer("One page of entries.", AuditPage, Example.auditPage),
        ...errors([400, 401, 429, 503]),
      },
    },
  },
};
