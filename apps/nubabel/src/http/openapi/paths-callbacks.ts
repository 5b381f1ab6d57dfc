import { Ack, McpInvokeRequest, McpInvokeResponse, McpListRequest, McpListResponse, ProgressAck, ProgressPost, RunResult, RunResultAck, SessionUpdate } from "@nubabel/contracts";
import { z } from "zod";
import type { ZodOpenApiOperationObject, ZodOpenApiPathsObject } from "zod-openapi";
import { SessionPath } from "../schemas.js";
import * as Example from "./examples.js";
import { answer, Auth, body, errors, forbidden } from "./responses.js";

const HOW =
  "For the sidecar only. Signed with Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`; HMAC-SHA256 over `id.timestamp.body`, a key derived per direction and route from `SIDECAR_SHARED_SECRET`, 5 minutes' tolerance, a seen `webhook-id` refused as a replay) and authorized by the delegation's capability token (`Authorization: Bearer`), which binds the call to one session and organization.";

const signatureHeaders = z.object({
  "webhook-id": z.string().meta({ description: "Unique per message; a repeat is refused as a replay." }),
  "webhook-timestamp": z.string().meta({ description: "Unix seconds; at most 5 minutes off." }),
});

const sessionMismatch = forbidden("session_mismatch", "this token is for another session", "sessionId");
const orgMismatch = forbidden("organization_mismatch", "organizationId does not match the delegation's organization", "organizationId");

function callback(operation: Omit<ZodOpenApiOperationObject, "tags" | "security">, path?: typeof SessionPath): ZodOpenApiOperationObject {
  return {
    tags: ["sidecar callbacks"],
    security: Auth.signed,
    ...operation,
    description: operation.description ? `${operation.description}\n\n${HOW}` : HOW,
    requestParams: { header: signatureHeaders, ...(path ? { path } : {}) },
  };
}

/** The sidecar's callbacks to Nubabel: signed, for the sidecar only; listed so its authors and auditors can read the contract. */
export const callbackPaths: ZodOpenApiPathsObject = {
  "/api/sidecar/sessions/{sessionId}/update": {
    post: callback(
      {
        operationId: "sessionUpdate",
        summary: "The session's OpenCode session and state changed",
        requestBody: body(SessionUpdate, { state: { opencodeSessionId: Example.OPENCODE_SESSION_ID, status: "running" } }),
        responses: { 200: answer("Applied.", Ack, { success: true }), ...errors([400, 401, 429, 503], sessionMismatch) },
      },
      SessionPath,
    ),
  },
  "/api/sidecar/sessions/{sessionId}/progress": {
    post: callback(
      {
        operationId: "sessionProgress",
        summary: "Progress events of a run, in order",
        description: "The event that ends a run is never rate limited.",
        requestBody: body(ProgressPost, { progress: Example.progressEvent }),
        responses: { 200: answer("Appended to the session's replay log.", ProgressAck, { success: true, id: "1764450845002-0" }), ...errors([400, 401, 429, 503], sessionMismatch) },
      },
      SessionPath,
    ),
  },
  "/api/sidecar/sessions/{sessionId}/result": {
    post: callback(
      {
        operationId: "runResult",
        summary: "How a run ended: its answer and usage",
        description: "Retried with the same `webhook-id` until acknowledged, and applied once by `runId`; never rate limited.",
        requestBody: body(RunResult, Example.runResult),
        responses: { 200: answer("The run's state after applying it.", RunResultAck, { success: true, status: "completed" }), ...errors([400, 401, 503], sessionMismatch) },
      },
      SessionPath,
    ),
  },
  "/api/sidecar/mcp/invoke": {
    post: callback({
      operationId: "mcpInvoke",
      summary: "Run one of the organization's MCP tools for the agent",
      requestBody: body(McpInvokeRequest, { provider: "notion", toolName: "API-post-search", args: { query: "tasks" } }),
      responses: {
        200: answer("The tool's answer; `isError` marks the tool's own failure.", McpInvokeResponse, { result: { content: [{ type: "text", text: "7 results" }] } }),
        ...errors([400, 401, 429, 503], orgMismatch),
      },
    }),
  },
  "/api/sidecar/mcp/list": {
    post: callback({
      operationId: "mcpList",
      summary: "The organization's MCP tools, for the agent",
      requestBody: body(McpListRequest, { provider: "notion" }),
      responses: {
        200: answer("The connections and their tools.", McpListResponse, {
          providers: [{ provider: "notion", name: "notion", tools: [{ name: "API-post-search", description: "Search pages and databases by title" }] }],
        }),
        ...errors([400, 401, 429, 503], orgMismatch),
      },
    }),
  },
};
