import { setTimeout as sleep } from "node:timers/promises";
import { checkUrl, createGuardedFetch, type GuardedFetch, type Resolve } from "@nubabel/net-policy";
import type { Keyring } from "../crypto/index.js";
import type { Logger } from "../log/logger.js";
import { retryDelay } from "./backoff.js";
import { openSecret } from "./endpoints.js";
import type { AttemptResult, ClaimedDelivery, WebhookStore } from "./ports.js";
import { signedHeaders } from "./signing.js";

/** The most of an answer's body kept in the delivery log. */
export const EXCERPT_BYTES = 1024;
const BATCH = 20;

export interface DeliverySenderOptions {
  store: WebhookStore;
  keyring: Keyring.Keyring;
  allowPrivateUrls: boolean;
  timeoutMs: number;
  retryBaseMs: number;
  /** How long a delivery is retried, and how long an endpoint may fail them all before it is disabled. */
  retryForMs: number;
  pollMs: number;
  resolve?: Resolve;
  log: Logger;
}

/**
 * Sends due deliveries: claims a batch (each row to one sender across instances), posts each with a
 * Standard Webhooks signature and a bounded wait, and settles it (delivered, retried later with
 * backoff, or given up). Polls, and is woken when this instance records an event. The destination
 * is checked against the URL policy again at each attempt, and the connection itself is vetted when
 * its socket connects (DNS may answer differently than when the URL was saved); redirects are not
 * followed (a 3xx is a failed attempt).
 */
export class DeliverySender {
  private readonly log: Logger;
  private readonly guard?: GuardedFetch;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private again = false;
  private stopped = true;
  private readonly inflight = new Set<AbortController>();

  constructor(private readonly options: DeliverySenderOptions) {
    this.log = options.log.child({ module: "webhooks" });
    if (!options.allowPrivateUrls) this.guard = createGuardedFetch();
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Looks for due deliveries now (an event was just recorded, or a retry asked for). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) this.again = true;
    else this.schedule(0);
  }

  /** Stops polling and cuts attempts in flight (recorded as failed, retried by whichever instance runs next). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const controller of this.inflight) controller.abort(new Error("shutting down"));
    await this.running;
    await this.guard?.close();
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.drain().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.again ? 0 : this.options.pollMs);
        this.again = false;
      });
    }, ms);
    this.timer.unref();
  }

  /** Sends what is due, batch after batch, until nothing is. */
  private async drain(): Promise<void> {
    // Long enough for the attempt's own bound and its settling; past it another sender may try.
    const leaseMs = this.options.timeoutMs + 10_000;
    while (!this.stopped) {
      let batch: ClaimedDelivery[];
      try {
        batch = await this.options.store.claim(BATCH, leaseMs);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "could not claim webhook deliveries");
        await sleep(Math.min(this.options.pollMs, 1_000));
        return;
      }
      if (batch.length === 0) return;
      await Promise.all(batch.map((d) => this.attempt(d)));
    }
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    // An attempt cut by a shutdown is settled like any failed one, so the next start need not wait for its lease.
    const result = await this.send(delivery);
    const retryInMs = retryDelay(delivery.attempts, this.options.retryBaseMs);
    try {
      const settled = await this.options.store.settle(delivery.id, result, { retryInMs, disableAfterMs: this.options.retryForMs });
      const log = { deliveryId: delivery.id, webhookId: delivery.endpoint.id, attempts: delivery.attempts, statusCode: result.statusCode, status: settled.status };
      if (result.ok) this.log.debug(log, "webhook delivered");
      else this.log.info({ ...log, error: result.error, retryInMs: settled.status === "pending" ? retryInMs : undefined }, "webhook attempt failed");
      if (settled.endpointDisabled) this.log.warn({ webhookId: delivery.endpoint.id }, "webhook endpoint disabled: every delivery failed for too long");
    } catch (err) {
      // Its lease lapses and it is tried again: at least once, never lost.
      this.log.warn({ deliveryId: delivery.id, err: (err as Error).message }, "could not record a webhook attempt");
    }
  }

  private async send(delivery: ClaimedDelivery): Promise<AttemptResult> {
    const { endpoint } = delivery;
    const check = await checkUrl(endpoint.url, { allowPrivate: this.options.allowPrivateUrls, resolve: this.options.resolve });
    if (!check.ok) return { ok: false, error: `not sent: url ${check.reason}` };
    let secrets: string[];
    try {
      const keep = endpoint.previousSecret && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt > new Date();
      secrets = [endpoint.secret, ...(keep ? [endpoint.previousSecret!] : [])].map((s) => openSecret(this.options.keyring, endpoint.id, s));
    } catch (err) {
      return { ok: false, error: `not sent: the signing secret cannot be read (${(err as Error).message})` };
    }
    const controller = new AbortController();
    this.inflight.add(controller);
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    try {
      const response = await (this.guard?.fetch ?? fetch)(check.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "Nubabel-Webhooks/1", ...signedHeaders(secrets, delivery.id, delivery.payload) },
        body: delivery.payload,
        redirect: "manual",
        signal: controller.signal,
      });
      const excerpt = await readExcerpt(response);
      if (response.status >= 200 && response.status < 300) return { ok: true, statusCode: response.status, excerpt };
      const error = response.status >= 300 && response.status < 400 ? "redirects are not followed" : `HTTP ${response.status}`;
      return { ok: false, statusCode: response.status, excerpt, error };
    } catch (err) {
      const e = err as Error & { cause?: Error };
      const reason = controller.signal.aborted ? (controller.signal.reason as Error).message : (e.cause?.message ?? e.message);
      return { ok: false, error: reason };
    } finally {
      clearTimeout(timer);
      this.inflight.delete(controller);
    }
  }
}

/** The start of a body, at most `EXCERPT_BYTES`, without reading (or waiting for) the rest. */
async function readExcerpt(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < EXCERPT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  // A character cut at the bound becomes U+FFFD; the excerpt is for people.
  return Buffer.concat(chunks).subarray(0, EXCERPT_BYTES).toString("utf8");
}
