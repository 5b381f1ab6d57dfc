import { NubabelError } from "../errors.js";

/** No such endpoint in the organization (another organization's is answered alike). */
export class WebhookNotFound extends NubabelError<{ webhookId: string }> {
  override readonly name = "WebhookNotFound" as const;
  constructor(webhookId: string) {
    super(`webhook ${webhookId} not found`, { webhookId });
  }
}

/** No such delivery for the endpoint. */
export class WebhookDeliveryNotFound extends NubabelError<{ deliveryId: string }> {
  override readonly name = "WebhookDeliveryNotFound" as const;
  constructor(deliveryId: string) {
    super(`delivery ${deliveryId} not found`, { deliveryId });
  }
}

/** An endpoint URL the policy refuses (loopback, private, link-local, metadata…); `reason` says why. */
export class WebhookUrlRefused extends NubabelError<{ field: string; reason: string }> {
  override readonly name = "WebhookUrlRefused" as const;
  constructor(reason: string) {
    super(`url: ${reason}`, { field: "url", reason });
  }
}
