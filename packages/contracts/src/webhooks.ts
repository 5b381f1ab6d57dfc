import { randomBytes, randomUUID } from "node:crypto";
import { Webhook, WebhookVerificationError } from "standardwebhooks";

/** Standard Webhooks tolerance: a timestamp further than this from now is stale. */
export const TOLERANCE_SECONDS = 5 * 60;

export const HEADER = {
  id: "webhook-id",
  timestamp: "webhook-timestamp",
  signature: "webhook-signature",
} as const;

/**
 * Remembers which `webhook-id`s were seen. `claim` is atomic: it answers true the first time an
 * id is claimed within `ttlSeconds`, false for a replay.
 */
export interface ReplayGuard {
  claim(id: string, ttlSeconds: number): Promise<boolean>;
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
 * Headers that sign `body` for the receiver holding the same secret. A retried delivery passes its
 * first `id` again (Standard Webhooks: same id, fresh timestamp and signature).
 */
export function sign(secret: string, body: string, now = new Date(), id = messageId()): Record<string, string> {
  const signature = new Webhook(secret).sign(id, now, body);
  return {
    [HEADER.id]: id,
    [HEADER.timestamp]: String(Math.floor(now.getTime() / 1000)),
    [HEADER.signature]: signature,
  };
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
 * Checks signature and timestamp (5-minute tolerance), then claims the `webhook-id` so the same
 * request is accepted once. Throws `SignatureError` saying what was wrong.
 */
export async function verify(
  secret: string,
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
    new Webhook(secret).verify(rawBody, signed, { jsonParse: false });
  } catch (err) {
    const reason = err instanceof WebhookVerificationError ? err.message : "invalid signature";
    throw new SignatureError(reason);
  }
  // "idempotent": the receiver applies the message at most once by its own key (a run's result),
  // so a redelivery with the same id must be acknowledged, not refused.
  if (guard === "idempotent") return;
  // Keep ids a little longer than the tolerance, so a replay inside the window is always caught.
  if (!(await guard.claim(id, TOLERANCE_SECONDS * 2))) throw new SignatureError("replayed webhook-id");
}

/** In-process `ReplayGuard` for a single instance. */
export class MemoryReplayGuard implements ReplayGuard {
  private readonly seen = new Map<string, number>();

  async claim(id: string, ttlSeconds: number): Promise<boolean> {
    const now = Date.now();
    if (this.seen.size > 10_000) {
      for (const [key, expires] of this.seen) if (expires <= now) this.seen.delete(key);
    }
    const expires = this.seen.get(id);
    if (expires !== undefined && expires > now) return false;
    this.seen.set(id, now + ttlSeconds * 1000);
    return true;
  }
}
