export { WebhookEndpoints, ROTATION_OVERLAP_MS, sealedSecretRows, type WebhookEndpointsDeps } from "./endpoints.js";
export { WebhookOutbox, type WebhookOutboxDeps, type ApprovalNoticeLike } from "./outbox.js";
export { DeliverySender, EXCERPT_BYTES, type DeliverySenderOptions } from "./sender.js";
export { WebhookDeliveryNotFound, WebhookNotFound, WebhookUrlRefused } from "./errors.js";
export type { WebhookStore } from "./ports.js";
