import { setMaxListeners } from "node:events";
import { Waits, Webhooks } from "@nubabel/contracts";
import type { Logger } from "../logger.js";
import { type CallbackClient, CallbackRejectedError } from "./client.js";

export interface Delivery {
  url: string;
  body: unknown;
  token?: string;
  /** What it is, for the log (`run_… result`). */
  label: string;
}

export interface OutboxOptions {
  /** Wait before the second attempt; it doubles up to `maxDelayMs`, with jitter. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Deliveries that must arrive (a run's result): attempted until Nubabel answers 2xx, backing off
 * exponentially with jitter, with one `webhook-id` for every attempt so the receiver can tell a
 * retry from a new message. A 4xx is final. Only `close()` ends the attempts early, also in the
 * middle of a wait: the reason this loop is not cockatiel's `retry`, whose wait between attempts
 * (up to `maxDelayMs`) does not listen to the abort signal (3.2.1), so a shutdown would sit it out.
 */
export class Outbox {
  private readonly inFlight = new Set<Promise<boolean>>();
  private readonly stopping = stoppable();
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly client: CallbackClient,
    private readonly log: Logger,
    opts: OutboxOptions = {},
  ) {
    this.initialDelayMs = opts.initialDelayMs ?? 500;
    this.maxDelayMs = opts.maxDelayMs ?? 30_000;
  }

  /** Deliveries not yet acknowledged (nor refused). */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Resolves true once acknowledged, false when refused (4xx) or abandoned at shutdown. */
  deliver(delivery: Delivery): Promise<boolean> {
    const attempt = this.attempt(delivery);
    this.inFlight.add(attempt);
    void attempt.finally(() => this.inFlight.delete(attempt));
    return attempt;
  }

  /** Waits up to `waitMs` for deliveries in flight, then abandons them. */
  async close(waitMs: number): Promise<void> {
    if (this.inFlight.size) await Waits.within(Promise.allSettled([...this.inFlight]), waitMs);
    if (this.inFlight.size) this.log.warn({ pending: this.inFlight.size }, "shutting down with deliveries not acknowledged");
    this.stopping.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private async attempt(delivery: Delivery): Promise<boolean> {
    const body = JSON.stringify(delivery.body);
    const message = new Webhooks.Outgoing();
    const webhookId = message.id;
    const signal = this.stopping.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        await this.client.once(delivery.url, body, delivery.token, { message, signal });
        if (attempt > 1) this.log.info({ label: delivery.label, attempt, webhookId }, "delivered after retrying");
        return true;
      } catch (err) {
        if (err instanceof CallbackRejectedError) {
          this.log.error({ label: delivery.label, status: err.status, err: err.message, webhookId }, "Nubabel refused the delivery; not retrying");
          return false;
        }
        if (signal.aborted) break;
        this.log.warn({ label: delivery.label, attempt, err: (err as Error).message, webhookId }, "delivery failed; retrying");
      }
      await sleep(this.delay(attempt), signal);
    }
    this.log.error({ label: delivery.label, webhookId }, "delivery abandoned at shutdown");
    return false;
  }

  /** "Equal jitter": half the exponential ceiling, plus a random part of the other half. */
  private delay(attempt: number): number {
    const ceiling = Math.min(this.maxDelayMs, this.initialDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

/** The signal every delivery's wait listens on: one listener per delivery in flight is expected. */
function stoppable(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
