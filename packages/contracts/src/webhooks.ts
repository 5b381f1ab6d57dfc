import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { ReplayGuard } from "./replay-guard.js";

/** Standard Webhooks tolerance: a timestamp further than this from now is stale. */
export const TOLERANCE_SECONDS = 5 * 60;

export const HEADER = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

export type { ReplayGuard } from "./replay-guard.js";

/** Which way a message goes between the services: part of what its signature covers. */
export type Direction = "nubabel-to-sidecar" | "sidecar-to-nubabel";

/** The one request a signature is good for. `path` is the URL's path; any query is ignored. */
export interface Route {
  direction: Direction;
  method: string;
  path: string;
}

/**
 * The Standard Webhooks secret for one route: `whsec_` + base64 of
 * HMAC-SHA256(secret bytes, "<direction> <METHOD> <path>"). Operators set one secret; a message
 * signed for one route or direction does not verify on any other. See docs/signatures.md.
 */
export function routeSecret(secret: string, route: Route): string {
  const bytes = Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const path = route.path.split("?")[0];
  const key = createHmac("sha256", bytes).update(`${route.direction} ${route.method.toUpperCase()} ${path}`).digest("base64");
  return `whsec_${key}`;
}

/**
 * standardwebhooks' `Webhook` (its secret parsing, headers, timestamp tolerance and comparison)
 * with the HMAC computed by node:crypto. The library's own runs in JavaScript (fast-sha256), 3 to
 * 10 times slower, and every turn signs and checks several messages (half a millisecond each for a
 * long answer). The same signature comes out; the tests hold it to the library's.
 */
export class NativeWebhook extends Webhook {
  private readonly keyBytes: Buffer;

  constructor(secret: string) {
    // The library's checks first: a secret it refuses is refused here too.
    super(secret);
    this.keyBytes = Buffer.from(secret.startsWith("whsec_") ? secret.slice("whsec_".length) : secret, "base64");
  }

  override sign(msgId: string, timestamp: Date, payload: string | Buffer): string {
    const seconds = Math.floor(timestamp.getTime() / 1000);
    // As the library does: a Buffer is signed as its text.
    const hmac = createHmac("sha256", this.keyBytes).update(`${msgId}.${seconds}.${payload.toString()}`);
    return `v1,${hmac.digest("base64")}`;
  }
}

/** A new Standard Webhooks secret (`whsec_` + 32 random bytes in base64). */
export function generateSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** True when `secret` is a usable Standard Webhooks secret. */
export function isSecret(secret: string): boolean {
  try {
    new Webhook(secret);
    return secret.startsWith("whsec_") && Buffer.from(secret.slice(6), "base64").length >= 24;
  } catch {
    return false;
  }
}

/**
 * Headers that sign `body` for one route, for the receiver holding the same secret. A retried
 * delivery passes its first `id` again (Standard Webhooks: same id, fresh timestamp and signature).
 */
export function sign(secret: string, route: Route, body: string, now = new Date(), id = messageId()): Record<string, string> {
  const signature = new NativeWebhook(routeSecret(secret, route)).sign(id, now, body);
  return {
    [HEADER.id]: id,
    [HEADER.timestamp]: String(Math.floor(now.getTime() / 1000)),
    [HEADER.signature]: signature,
  };
}

/**
 * One message across its tries: the same `webhook-id` each time, signed afresh with a timestamp at
 * least a second after the last try's, because a receiver refuses a repeated id and timestamp as
 * a replay (an honest retry within the same second would otherwise look like one).
 */
export class Outgoing {
  private last = 0;
  constructor(readonly id = messageId()) {}

  sign(secret: string, route: Route, body: string): Record<string, string> {
    const seconds = Math.max(Math.floor(Date.now() / 1000), this.last + 1);
    this.last = seconds;
    return sign(secret, route, body, new Date(seconds * 1000), this.id);
  }
}

/** A new `webhook-id`. */
export function messageId(): string {
  return `msg_${randomUUID()}`;
}

export class SignatureError extends Error {
  override readonly name = "SignatureError";
}

type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Checks the signature for this route and the timestamp (5-minute tolerance), then claims the
 * message so the same signed request is accepted once. A retry keeps its `webhook-id` but is
 * signed afresh (a new timestamp), so the claim is on id and timestamp together: an honest retry
 * passes, a captured copy does not. Throws `SignatureError` saying what was wrong.
 */
export async function verify(
  secret: string,
  route: Route,
  rawBody: string,
  headers: HeaderBag,
  guard: ReplayGuard | "idempotent",
): Promise<void> {
  const pick = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const id = pick(HEADER.id);
  const timestamp = pick(HEADER.timestamp);
  const signature = pick(HEADER.signature);
  if (!id || !timestamp || !signature) throw new SignatureError("missing Standard Webhooks signature headers");
  try {
    // Only the signature is checked here: a body that is no JSON is the receiver's 400 to give,
    // not a signature failure.
    const signed = { [HEADER.id]: id, [HEADER.timestamp]: timestamp, [HEADER.signature]: signature };
    new NativeWebhook(routeSecret(secret, route)).verify(rawBody, signed, { jsonParse: false });
  } catch (err) {
    const reason = err instanceof WebhookVerificationError ? err.message : "invalid signature";
    throw new SignatureError(reason);
  }
  // "idempotent": the receiver applies the message at most once by its own key (a run's result),
  // so a redelivery with the same id must be acknowledged, not refused.
  if (guard === "idempotent") return;
  // Keep ids a little longer than the tolerance, so a replay inside the window is always caught.
  const signedAt = Number(timestamp);
  if (!(await guard.claim(`webhook:${id}:${signedAt}`, TOLERANCE_SECONDS * 2, signedAt))) {
    throw new SignatureError("replayed message (this webhook-id and timestamp were seen, or it was signed before the replay memory was lost)");
  }
}

export { MemoryReplayGuard, RedisReplayGuard } from "./replay-guard.js";
