import { z } from "zod";
import { DeliveryId, RunId, WebhookId } from "./ids.js";
import { ApiRun } from "./runs.js";
import { line } from "./text.js";

/**
 * `/api/webhooks`: an organization's endpoints, told of its runs' lifecycle as Standard Webhooks
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`) signed with the endpoint's own `whsec_`
 * secret. Not to be confused with `Webhooks` (this package's signing between Nubabel and the sidecar).
 */

/** What an endpoint may hear. `approval.*` come from tool calls waiting for a person. */
export const WebhookEventType = z.enum([
  "run.queued",
  "run.started",
  "run.completed",
  "run.failed",
  "run.aborted",
  "approval.requested",
  "approval.resolved",
]);
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/**
 * The body of every delivery. `data` is the run as `GET /api/runs/:runId` shows it when the event
 * happened (for approval events, with its `approvals`).
 */
export const WebhookEvent = z.object({
  type: WebhookEventType,
  timestamp: z.iso.datetime(),
  data: ApiRun,
});
export type WebhookEvent = z.infer<typeof WebhookEvent>;

const Events = z.array(WebhookEventType).min(1).max(WebhookEventType.options.length);

/** `POST /api/webhooks` body. `events` defaults to every event; `enabled` to true. */
export const CreateWebhookRequest = z.strictObject({
  url: line(2048),
  events: Events.optional(),
  enabled: z.boolean().optional(),
});
export type CreateWebhookRequest = z.infer<typeof CreateWebhookRequest>;

/** `PATCH /api/webhooks/:webhookId` body. Enabling an endpoint disabled for failing clears its reason. */
export const UpdateWebhookRequest = z.strictObject({
  url: line(2048).optional(),
  events: Events.optional(),
  enabled: z.boolean().optional(),
});
export type UpdateWebhookRequest = z.infer<typeof UpdateWebhookRequest>;

/** An endpoint as every response shows it: never its secret (that is shown once, at creation or rotation). */
export const WebhookEndpoint = z.object({
  id: WebhookId,
  url: z.string(),
  events: z.array(WebhookEventType),
  enabled: z.boolean(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  /** Why Nubabel disabled it (every delivery failing for a day); absent when enabled or disabled by the organization. */
  disabledReason: z.string().optional(),
  disabledAt: z.iso.datetime().optional(),
  /** Until when the secret replaced by the last rotation still signs deliveries too. */
  previousSecretExpiresAt: z.iso.datetime().optional(),
});
export type WebhookEndpoint = z.infer<typeof WebhookEndpoint>;

/** `201` of `POST /api/webhooks`: the endpoint and its signing secret, shown this once. */
export const WebhookEndpointCreated = WebhookEndpoint.extend({ secret: z.string().startsWith("whsec_") });
export type WebhookEndpointCreated = z.infer<typeof WebhookEndpointCreated>;

/** `POST /api/webhooks/:webhookId/rotate-secret`: the new secret, shown this once; the old one signs too until `previousSecretExpiresAt`. */
export const WebhookSecretRotated = z.object({
  id: WebhookId,
  secret: z.string().startsWith("whsec_"),
  previousSecretExpiresAt: z.iso.datetime(),
});
export type WebhookSecretRotated = z.infer<typeof WebhookSecretRotated>;

/** `GET /api/webhooks`. */
export const WebhookList = z.object({ webhooks: z.array(WebhookEndpoint) });
export type WebhookList = z.infer<typeof WebhookList>;

/** `DELETE /api/webhooks/:webhookId` (its deliveries go with it). */
export const WebhookDeleted = z.object({ id: WebhookId, deleted: z.literal(true) });
export type WebhookDeleted = z.infer<typeof WebhookDeleted>;

/** `pending` until a 2xx (`delivered`) or until Nubabel gives up after retrying for a day (`failed`). */
export const DeliveryStatus = z.enum(["pending", "delivered", "failed"]);
export type DeliveryStatus = z.infer<typeof DeliveryStatus>;

/** One event for one endpoint across its attempts; `id` is the `webhook-id` every attempt carries. */
export const WebhookDelivery = z.object({
  id: DeliveryId,
  webhookId: WebhookId,
  type: WebhookEventType,
  runId: RunId,
  status: DeliveryStatus,
  attempts: z.number().int().nonnegative(),
  /** The HTTP status of the last attempt's answer (absent when none came: refused, unreachable, timed out). */
  lastStatusCode: z.number().int().optional(),
  /** The start of the last answer's body, bounded (1 KB). */
  lastResponse: z.string().optional(),
  /** Why the last attempt failed without an answer, or what the answer meant. */
  lastError: z.string().optional(),
  lastAttemptAt: z.iso.datetime().optional(),
  /** When the next attempt is due, while pending. */
  nextAttemptAt: z.iso.datetime().optional(),
  createdAt: z.iso.datetime(),
  deliveredAt: z.iso.datetime().optional(),
});
export type WebhookDelivery = z.infer<typeof WebhookDelivery>;

/** `GET /api/webhooks/:webhookId/deliveries`: newest first. */
export const WebhookDeliveryList = z.object({ deliveries: z.array(WebhookDelivery) });
export type WebhookDeliveryList = z.infer<typeof WebhookDeliveryList>;
