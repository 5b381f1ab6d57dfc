import { MAX_PROGRESS_BATCH, type ProgressEvent, type RunResult, type SessionUpdate } from "@nubabel/contracts";
import { Tracing } from "@nubabel/telemetry";
import type { Logger } from "../logger.js";
import type { Binding } from "../bindings/binding.js";
import type { CallbackClient } from "./client.js";
import type { Outbox } from "./outbox.js";

/** The most progress (serialized) that rides with a result; more goes in its own callback first. */
const RIDE_ALONG_BYTES = 64 * 1024;

/** A callback waiting to go, with the trace of the run it belongs to (its request continues it). */
type Pending = ({ kind: "progress"; event: ProgressEvent } | { kind: "update"; body: SessionUpdate } | { kind: "result"; body: RunResult }) & {
  trace?: Tracing.Context;
};

/** A progress event as a run reports it: the reporter stamps time and order. */
export type ProgressInput = Omit<ProgressEvent, "seq" | "timestamp"> & { timestamp?: string };

/**
 * Delivers one session's callbacks in order without ever making the run wait: one background
 * sender per session, working through a queue. Progress events that piled up while the previous
 * callback was in flight, or within `batchMs` of the first, go together in one request (`events`),
 * so a busy run costs a request per round trip rather than per event. `message_updated`
 * is coalesced (only the latest text is sent, at most once per interval); everything else, the
 * terminal event above all, is always delivered. A run's result (when the binding has a
 * `runResult` callback) goes after all of its progress, carrying what had not been sent yet, and
 * is retried until acknowledged; the session's later callbacks wait behind it.
 */
export class SessionReporter {
  private readonly queue: Pending[] = [];
  private sending: Promise<void> | undefined;
  private seq = 0;
  private pendingText: ProgressEvent | undefined;
  private textTimer: NodeJS.Timeout | undefined;
  private batchTimer: NodeJS.Timeout | undefined;
  private lastTextAt = 0;
  /** The running turn's trace: callbacks queued from now on continue it. */
  private trace: Tracing.Context | undefined;

  /**
   * `textIntervalMs`: the least time between two `message_updated` of the session; `batchMs`: how
   * long the first progress event waits for others to go with it (0: sent at once).
   */
  constructor(
    private binding: Binding,
    private readonly client: CallbackClient,
    private readonly outbox: Outbox,
    private readonly timing: { textIntervalMs: number; batchMs?: number },
    private readonly log: Logger,
  ) {}

  /** A follow-up may bring new callbacks or a fresh token: later deliveries use them. */
  rebind(binding: Binding): void {
    this.binding = binding;
  }

  /** The session's next callbacks belong to the turn of this trace context. */
  traceWith(trace: Tracing.Context): void {
    this.trace = trace;
  }

  progress(event: ProgressInput): void {
    const full = { ...event, timestamp: event.timestamp ?? new Date().toISOString() } as ProgressEvent;
    if (full.type === "message_updated") {
      this.pendingText = full;
      const wait = this.lastTextAt + this.timing.textIntervalMs - Date.now();
      if (wait <= 0) this.flushText();
      else this.textTimer ??= setTimeout(() => this.flushText(), wait);
      return;
    }
    this.flushText();
    this.enqueue({ kind: "progress", event: full });
  }

  update(status: SessionUpdate["state"]["status"], metadata?: Record<string, unknown>): void {
    // With a runResult callback the caller keeps each run's state itself (Nubabel's durable runs):
    // three requests per turn that would tell it nothing new are not sent.
    if (this.binding.callbacks?.runResult) return;
    this.flushText();
    this.enqueue({
      kind: "update",
      body: { state: { opencodeSessionId: this.binding.opencodeSessionId, status }, ...(metadata ? { metadata } : {}) },
    });
  }

  /**
   * How a run ended: its `RunResult` to the `runResult` callback when the binding has one (Nubabel
   * then appends the terminal event itself), otherwise the terminal progress event.
   */
  end(result: RunResult, terminal: ProgressInput): void {
    this.flushText();
    if (!this.binding.callbacks?.runResult) return this.progress(terminal);
    // Progress still waiting to be sent rides with the result (one request, not two): only when
    // nothing else waits before it, so the order stays the queue's.
    // Bounded, so the result (which carries the whole answer) stays well inside a request's limit.
    const waiting =
      this.queue.length > 0 &&
      this.queue.length <= MAX_PROGRESS_BATCH &&
      this.queue.every((p) => p.kind === "progress") &&
      JSON.stringify(this.queue).length <= RIDE_ALONG_BYTES;
    const events = waiting ? this.queue.splice(0).map((p) => (p as { event: ProgressEvent }).event) : [];
    this.enqueue({ kind: "result", body: events.length ? { ...result, events } : result });
  }

  /** Resolves when everything queued so far was delivered (or given up on). */
  drained(): Promise<void> {
    this.flushText();
    if (this.queue.length) this.startSending();
    return this.sending ?? Promise.resolve();
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
    if (!this.binding.callbacks) return;
    if (item.kind === "progress") item.event.seq = this.seq++;
    if (this.trace) item.trace = this.trace;
    this.queue.push(item);
    const batchMs = this.timing.batchMs ?? 0;
    // Progress waits a moment for company (a turn's steps often come close together, and its last
    // ones then ride with its result); anything else goes now.
    if (item.kind === "progress" && batchMs > 0 && !this.sending) this.batchTimer ??= setTimeout(() => this.startSending(), batchMs);
    else this.startSending();
  }

  private startSending(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    this.sending ??= this.send().finally(() => (this.sending = undefined));
  }

  private async send(): Promise<void> {
    while (this.queue.length) {
      const first = this.queue[0]!;
      await (first.trace ? Tracing.withContext(first.trace, () => this.sendFirst(first)) : this.sendFirst(first));
    }
  }

  /** Sends the callback at the head of the queue (a batch of progress, an update, or a result). */
  private async sendFirst(first: Pending): Promise<void> {
    if (first.kind === "progress") {
      let n = 1;
      while (n < MAX_PROGRESS_BATCH && this.queue[n]?.kind === "progress") n++;
      const events = this.queue.splice(0, n).map((p) => (p as { event: ProgressEvent }).event);
      // One event keeps the seed's shape, which every Nubabel version reads.
      await this.post("progress", this.binding.callbacks?.progress, events.length === 1 ? { progress: events[0] } : { events });
    } else if (first.kind === "update") {
      this.queue.shift();
      await this.post("update", this.binding.callbacks?.sessionUpdate, first.body);
    } else {
      this.queue.shift();
      const url = this.binding.callbacks?.runResult;
      const body = first.body;
      if (url) await this.outbox.deliver({ url, body, label: `${body.runId} result`, ...(this.binding.callbackToken ? { token: this.binding.callbackToken } : {}) });
    }
  }

  private async post(kind: string, url: string | undefined, body: unknown): Promise<void> {
    if (!url) return;
    try {
      await this.client.post(url, body, this.binding.callbackToken);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, kind }, "callback not delivered");
    }
  }
}
