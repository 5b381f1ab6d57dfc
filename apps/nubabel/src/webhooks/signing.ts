import { Webhooks } from "@nubabel/contracts";

/**
 * Standard Webhooks headers for one attempt. Each secret signs; `webhook-signature` carries every
 * signature space-separated (the specification's way to let a receiver verify with the old secret
 * or the new one while a rotation overlaps). The id is the delivery's, the same on every attempt;
 * the timestamp is the attempt's.
 */
export function signedHeaders(secrets: string[], id: string, body: string, now = new Date()): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhooks.NativeWebhook(secret).sign(id, now, body)).join(" "),
  };
}
