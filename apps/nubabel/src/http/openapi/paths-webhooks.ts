import {
  CreateWebhookRequest,
  UpdateWebhookRequest,
  WebhookDeleted,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookEndpoint,
  WebhookEndpointCreated,
  WebhookEvent,
  WebhookEventType,
  WebhookList,
  WebhookSecretRotated,
} from "@nubabel/contracts";
import type { ZodOpenApiObject, ZodOpenApiPathsObject } from "zod-openapi";
import { DeliveryPath, WebhookPath } from "../schemas.js";
import * as Example from "./examples.js";
import { answer, Auth, body, errors, notFound } from "./responses.js";

const WEBHOOK_ID = "whk_3n7q1x5v9b2m4k6h8j0c2d4f6g";
const DELIVERY_ID = "dlv_8r2t4y6u1i3o5p7a9s0d2f4g6h";
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const endpoint: WebhookEndpoint = {
  id: WEBHOOK_ID,
  url: "https://hooks.example.com/nubabel",
  events: ["run.completed", "run.failed", "approval.requested"],
  enabled: true,
  createdAt: "2026-11-29T09:00:00.000Z",
  updatedAt: "2026-11-29T09:00:00.000Z",
};
const delivery: WebhookDelivery = {
  id: DELIVERY_ID,
  webhookId: WEBHOOK_ID,
  type: "run.completed",
  runId: Example.RUN_ID,
  status: "pending",
  attempts: 2,
  lastStatusCode: 503,
  lastResponse: "upstream unavailable",
  lastError: "HTTP 503",
  lastAttemptAt: "2026-11-29T21:14:21.600Z",
  nextAttemptAt: "2026-11-29T21:14:41.600Z",
  createdAt: "2026-11-29T21:14:11.540Z",
};
const webhookNotFound = notFound("webhook_not_found", `webhook ${WEBHOOK_ID} not found`);
const DELIVERY_DESCRIPTION = [
  "Each event is a `POST` of `{\"type\", \"timestamp\", \"data\"}` (`data`: the run as `GET /api/runs/{runId}` shows it) signed as Standard Webhooks: `webhook-id` (the delivery's id, the same on every attempt: deduplicate on it), `webhook-timestamp` and `webhook-signature` (HMAC-SHA256 with the endpoint's `whsec_` secret; during a rotation, one signature per secret, space-separated).",
  "Delivered at least once: a network error, a timeout or any non-2xx answer is retried with exponential backoff and jitter for 24 hours; a run's events arrive in order. Redirects are not followed. An endpoint that fails every delivery for 24 hours is disabled, with `disabledReason`.",
].join("\n\n");

/** `/api/webhooks`: the organization's webhook endpoints and their delivery log. */
export const webhookPaths: ZodOpenApiPathsObject = {
  "/api/webhooks": {
    post: {
      tags: ["webhooks"],
      operationId: "createWebhook",
      summary: "Add an endpoint told of the organization's runs (its secret is shown this once)",
      description: `${DELIVERY_DESCRIPTION}\n\n\`events\` defaults to every one. The URL must be http(s) to a public address (no loopback, private, link-local or metadata address, unless the operator allows them).`,
      security: Auth.apiKey,
      requestBody: body(CreateWebhookRequest, { url: endpoint.url, events: endpoint.events }),
      responses: { 201: answer("The endpoint and its signing secret.", WebhookEndpointCreated, { ...endpoint, secret: SECRET }), ...errors([400, 401, 429, 503]) },
    },
    get: {
      tags: ["webhooks"],
      operationId: "listWebhooks",
      summary: "The organization's webhook endpoints",
      security: Auth.apiKey,
      responses: { 200: answer("Every endpoint, enabled or not.", WebhookList, { webhooks: [endpoint] }), ...errors([401, 429, 503]) },
    },
  },
  "/api/webhooks/{webhookId}": {
    get: {
      tags: ["webhooks"],
      operationId: "getWebhook",
      summary: "One webhook endpoint",
      security: Auth.apiKey,
      requestParams: { path: WebhookPath },
      responses: { 200: answer("The endpoint.", WebhookEndpoint, endpoint), ...errors([400, 401, 429, 503], webhookNotFound) },
    },
    patch: {
      tags: ["webhooks"],
      operationId: "updateWebhook",
      summary: "Change an endpoint's URL or events, or enable or disable it",
      description: "Enabling an endpoint Nubabel disabled clears `disabledReason`; its pending deliveries resume.",
      security: Auth.apiKey,
      requestParams: { path: WebhookPath },
      requestBody: body(UpdateWebhookRequest, { enabled: true }),
      responses: { 200: answer("The endpoint as it is now.", WebhookEndpoint, endpoint), ...errors([400, 401, 429, 503], webhookNotFound) },
    },
    delete: {
      tags: ["webhooks"],
      operationId: "deleteWebhook",
      summary: "Remove an endpoint and its delivery log",
      security: Auth.apiKey,
      requestParams: { path: WebhookPath },
      responses: { 200: answer("Removed.", WebhookDeleted, { id: WEBHOOK_ID, deleted: true }), ...errors([400, 401, 429, 503], webhookNotFound) },
    },
  },
  "/api/webhooks/{webhookId}/rotate-secret": {
    post: {
      tags: ["webhooks"],
      operationId: "rotateWebhookSecret",
      summary: "Replace the signing secret (the old one still signs for 24 hours)",
      description: "Until `previousSecretExpiresAt`, every delivery carries two signatures in `webhook-signature`: switch the receiver to the new secret at leisure.",
      security: Auth.apiKey,
      requestParams: { path: WebhookPath },
      responses: {
        200: answer("The new secret, shown this once.", WebhookSecretRotated, { id: WEBHOOK_ID, secret: SECRET, previousSecretExpiresAt: "2026-11-30T09:00:00.000Z" }),
        ...errors([400, 401, 429, 503], webhookNotFound),
      },
    },
  },
  "/api/webhooks/{webhookId}/deliveries": {
    get: {
      tags: ["webhooks"],
      operationId: "listWebhookDeliveries",
      summary: "The endpoint's latest deliveries (newest first, up to 100)",
      security: Auth.apiKey,
      requestParams: { path: WebhookPath },
      responses: { 200: answer("Deliveries with their last attempt.", WebhookDeliveryList, { deliveries: [delivery] }), ...errors([400, 401, 429, 503], webhookNotFound) },
    },
  },
  "/api/webhooks/{webhookId}/deliveries/{deliveryId}/retry": {
    post: {
      tags: ["webhooks"],
      operationId: "retryWebhookDelivery",
      summary: "Send a delivery again now (any status), with a fresh 24 hours of retries",
      security: Auth.apiKey,
      requestParams: { path: DeliveryPath },
      responses: {
        202: answer("The delivery, due now.", WebhookDelivery, { ...delivery, nextAttemptAt: "2026-11-29T21:15:00.000Z" }),
        ...errors([400, 401, 429, 503], notFound("delivery_not_found", `delivery ${DELIVERY_ID} not found (or the endpoint ${WEBHOOK_ID}: webhook_not_found)`)),
      },
    },
  },
};

/**
 * What Nubabel sends to an endpoint (OpenAPI 3.1 `webhooks`): one entry per event type, each the
 * same signed `{type, timestamp, data}` body.
 */
const { output: _output, usage: _usage, finishedAt: _finished, ...running } = Example.run;

export const webhookEvents: NonNullable<ZodOpenApiObject["webhooks"]> = Object.fromEntries(
  WebhookEventType.options.map((type) => [
    type,
    {
      post: {
        tags: ["webhooks"],
        summary: `\`${type}\` reaches the organization's endpoint`,
        description: DELIVERY_DESCRIPTION,
        requestBody: body(WebhookEvent, {
          type,
          timestamp: "2026-11-29T21:14:11.540Z",
          data: type === "run.completed" ? Example.run : { ...running, status: type === "run.queued" ? "queued" : "running" },
        }),
        responses: { 200: { description: "Any 2xx acknowledges it; anything else (or no answer within the timeout) is retried." } },
      },
    },
  ]),
);
