import type { ProgressEvent, SessionUpdate } from "@nubabel/contracts";
import type { Logger } from "../logger.js";
import type { Binding } from "../bindings/binding.js";
import type { CallbackClient } from "./client.js";

type Pending = { kind: "progress"; event: ProgressEvent } | { kind: "update"; body: SessionUpdate };

/**
 * Delivers one session's callbacks in order without ever making the run wait: a single
 * background chain per session. `message_updated` is coalesced (only the latest text is sent, at
 * most once per interval); everything else, the terminal event above all, is always delivered.
 */
export class SessionReporter {
  private chain: Promise<void> = Promise.resolve();
  private seq = 0;
  private pendingText: ProgressEvent | undefined;
  private textTimer: NodeJS.Timeout | undefined;
  private lastTextAt = 0;

  constructor(
    private binding: Binding,
    private readonly client: CallbackClient,
    private readonly textIntervalMs: number,
    private readonly log: Logger,
  ) {}

  /** A follow-up may bring new callbacks or a fresh token: later deliveries use them. */
  rebind(binding: Binding): void {
    this.binding = binding;
  }

  progress(event: Omit<ProgressEvent, "seq" | "timestamp"> & { timestamp?: string }): void {
    const full = { ...event, timestamp: event.timestamp ?? new Date().toISOString() } as ProgressEvent;
    if (full.type === "message_updated") {
      this.pendingText = full;
      const wait = this.lastTextAt + this.textIntervalMs - Date.now();
      if (wait <= 0) this.flushText();
      else this.textTimer ??= setTimeout(() => this.flushText(), wait);
      return;
    }
    this.flushText();
    this.enqueue({ kind: "progress", event: full });
  }

  update(status: SessionUpdate["state"]["status"], metadata?: Record<string, unknown>): void {
    this.flushText();
    this.enqueue({
      kind: "update",
      body: { state: { opencodeSessionId: this.binding.opencodeSessionId, status }, ...(metadata ? { metadata } : {}) },
    });
  }

  /** Resolves when everything queued so far was delivered (or given up on). */
  drained(): Promise<void> {
    this.flushText();
    return this.chain;
  }

  private flushText(): void {
    clearTimeout(this.textTimer);
    this.textTimer = undefined;
    if (!this.pendingText) return;
    const event = this.pendingText;
    this.pendingText = undefined;
    this.lastTextAt = Date.now();
    this.enqueue({ kind: "progress", event });
  }

  private enqueue(item: Pending): void {
    const callbacks = this.binding.callbacks;
    if (!callbacks) return;
    if (item.kind === "progress") item.event.seq = this.seq++;
    const url = item.kind === "progress" ? callbacks.progress : callbacks.sessionUpdate;
    const body = item.kind === "progress" ? { progress: item.event } : item.body;
    this.chain = this.chain.then(async () => {
      try {
        await this.client.post(url, body, this.binding.callbackToken);
      } catch (err) {
        this.log.warn({ err: (err as Error).message, kind: item.kind }, "callback not delivered");
      }
    });
  }
}
