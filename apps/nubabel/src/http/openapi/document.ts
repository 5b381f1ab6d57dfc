import {
  ApiRun,
  Connection,
  DelegateResponse,
  ErrorBody,
  HealthReport,
  ProgressEvent,
  RunResult,
  StreamEvent,
  Usage,
} from "@nubabel/contracts";
import { createDocument, type ZodOpenApiObject, type ZodOpenApiPathsObject } from "zod-openapi";
import { apiKeyPaths } from "./paths-api-keys.js";
import { approvalPaths } from "./paths-approvals.js";
import { auditPaths } from "./paths-audit.js";
import { callbackPaths } from "./paths-callbacks.js";
import { connectionPaths } from "./paths-connections.js";
import { apiPaths } from "./paths-api.js";
import { probePaths } from "./paths-probes.js";
import { webhookEvents, webhookPaths } from "./paths-webhooks.js";
import { usagePaths } from "./paths-usage.js";

/**
 * Routes left out of the document on purpose. `/slack/*` is Slack's to call, described by Slack's
 * Events API, and signed with Slack's secret; `/admin/*` is the CLI's door on the embedded default,
 * answering loopback callers holding a file secret only: documenting it would invite callers that
 * it refuses. Both change with their one client, not with the API's callers. `/console` is the web
 * console's static files (HTML, scripts, styles), a page for people, not an API.
 */
export const UNDOCUMENTED = [/^\/slack\//, /^\/admin\//, /^\/console(\/|$)/];

/** Every operation, with the zod schemas and examples the document is built from (the OpenAPI test walks them too). */
export const paths: ZodOpenApiPathsObject = {
  ...apiPaths,
  ...approvalPaths,
  ...connectionPaths,
  ...auditPaths,
  ...usagePaths,
  ...webhookPaths,
  ...apiKeyPaths,
  ...probePaths,
  ...callbackPaths,
};

/** What Nubabel sends to organizations' webhook endpoints (OpenAPI 3.1 `webhooks`). */
export const webhooks = webhookEvents;

export const spec: ZodOpenApiObject = {
  openapi: "3.1.0",
  info: {
    title: "Nubabel API",
    version: "0.1.0",
    description: [
      "Nubabel is an organization's AI assistant: a prompt becomes a *run* in a *session* (a conversation, e.g. a Slack thread), handed to an OpenCode agent, whose progress can be followed live and whose answer is kept.",
      "",
      "**Auth.** Every `/api/…` route for callers takes the organization's API key as `Authorization: Bearer nbk_…`; the session stream also takes a short-lived `?token=` for browsers. The probes and this reference are public.",
      "",
      "**Errors.** Every error has the body `{\"error\": {\"code\", \"message\", \"details\"}}`: `code` is stable and machine-readable, `message` is for people, `details` (optional) names the fields at fault. `400` invalid request, `401` no or a refused credential, `403` bound elsewhere, `404` not found (also for another organization's resources), `402` the organization's monthly budget is spent, `409` conflict, `429` rate limited (`Retry-After`), `502`/`504` an MCP server or the sidecar failed, `503` a dependency is down.",
    ].join("\n"),
  },
  tags: [
    { name: "runs", description: "Prompts and their runs: `queued → running → completed | failed | aborted`; a running run whose tool call waits for a person shows `waiting_approval`." },
    { name: "sessions", description: "Conversations: history, live progress (SSE), stopping." },
    { name: "approvals", description: "Tool calls that wait for a person: the organization's policy and the decisions." },
    { name: "connections", description: "The organization's MCP servers (Notion, GitHub, custom), whose tools the agent may use." },
    { name: "audit", description: "Who did what with the organization's tools and credentials, and how it went." },
    { name: "webhooks", description: "Endpoints told of the organization's runs as signed Standard Webhooks, retried for a day, with a delivery log." },
    { name: "keys", description: "The organization's API keys: make, list, revoke; a key is shown once." },
    { name: "usage", description: "Tokens and cost of the organization's runs, and its monthly budget." },
    { name: "probes", description: "For orchestrators and operators; no credentials." },
    { name: "reference", description: "This document." },
    { name: "sidecar callbacks", description: "Signed calls from the OpenCode sidecar; not for API callers." },
  ],
  paths,
  webhooks,
  components: {
    securitySchemes: {
      apiKey: { type: "http", scheme: "bearer", bearerFormat: "nbk_…", description: "The organization's API key." },
      streamToken: {
        type: "apiKey",
        in: "query",
        name: "token",
        description: "A short-lived token for one session's stream, from `POST /api/sessions/{sessionId}/stream-token`.",
      },
      webhookSignature: {
        type: "apiKey",
        in: "header",
        name: "webhook-signature",
        description: "Standard Webhooks signature (with `webhook-id` and `webhook-timestamp`), keyed from `SIDECAR_SHARED_SECRET`.",
      },
      callbackToken: { type: "http", scheme: "bearer", description: "The capability token Nubabel issued with the delegation (`aud: callback`)." },
    },
    // Named here so they appear once and are referenced wherever used.
    schemas: { ErrorBody, ApiRun, DelegateResponse, Usage, Connection, HealthReport, ProgressEvent, StreamEvent, RunResult },
  },
};

let built: ReturnType<typeof createDocument> | undefined;

/** The OpenAPI 3.1 document, built once from the contracts on first use. */
export function document(): ReturnType<typeof createDocument> {
  built ??= createDocument(spec, {
    // `z.unknown()` (a tool's result, metadata) is any JSON: an empty schema says exactly that.
    allowEmptySchema: { unknown: true, any: true },
    // Zod closes every object it outputs (`additionalProperties: false`), but answers gain fields
    // over time ("extend, don't rename"): a client generated from a closed schema would break on
    // the next release. Only objects declared strict stay closed.
    override: ({ jsonSchema, zodSchema, io }) => {
      const def = zodSchema._zod.def as { type: string; catchall?: { _zod: { def: { type: string } } } };
      if (io === "output" && def.type === "object" && jsonSchema.additionalProperties === false && def.catchall?._zod.def.type !== "never") {
        delete jsonSchema.additionalProperties;
      }
    },
  });
  return built;
}
