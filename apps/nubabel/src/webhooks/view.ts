import type { WebhookDelivery, WebhookEndpoint } from "@nubabel/contracts";
import type { StoredDelivery, StoredEndpoint } from "./ports.js";

/** An endpoint as the API shows it: never a secret. */
export function toApiEndpoint(e: StoredEndpoint, now = new Date()): WebhookEndpoint {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    enabled: e.enabled,
    createdAt: e.createdAt.toISOString(),
    updatedAt: e.updatedAt.toISOString(),
    ...(!e.enabled && e.disabledReason ? { disabledReason: e.disabledReason } : {}),
    ...(!e.enabled && e.disabledAt ? { disabledAt: e.disabledAt.toISOString() } : {}),
    ...(e.previousSecret && e.previousSecretExpiresAt && e.previousSecretExpiresAt > now
      ? { previousSecretExpiresAt: e.previousSecretExpiresAt.toISOString() }
      : {}),
  };
}

export function toApiDelivery(d: StoredDelivery): WebhookDelivery {
  return {
    id: d.id,
    webhookId: d.endpointId,
    type: d.type,
    runId: d.runId,
    status: d.status,
    attempts: d.attempts,
    ...(d.lastStatusCode !== null ? { lastStatusCode: d.lastStatusCode } : {}),
    ...(d.lastResponse !== null ? { lastResponse: d.lastResponse } : {}),
    ...(d.lastError !== null ? { lastError: d.lastError } : {}),
    ...(d.lastAttemptAt ? { lastAttemptAt: d.lastAttemptAt.toISOString() } : {}),
    ...(d.status === "pending" ? { nextAttemptAt: d.nextAttemptAt.toISOString() } : {}),
    createdAt: d.createdAt.toISOString(),
    ...(d.deliveredAt ? { deliveredAt: d.deliveredAt.toISOString() } : {}),
  };
}
