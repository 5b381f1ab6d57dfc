import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../log/logger.js";
import type { Blocks } from "./web-api.js";

/** Time, injectable so the update budget can be tested without waiting on wall-clock time. */
export interface Clock {
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts (never rejects). */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
};

/** The two Slack calls a live message needs, bound to one channel and thread. */
export interface MessageWriter {
  /** Posts a new message in the thread; resolves with its `ts`. */
  post(text: string, blocks?: Blocks): Promise<string>;
  /** Makes the message `text` (and `blocks`; none when absent, so earlier buttons go). */
  update(ts: string, text: string, blocks?: Blocks): Promise<void>;
}

/**
 * One progress message, updated in place. Updates are coalesced: at most one request is in flight,
 * request starts are at least `intervalMs` apart, and whatever was shown last is what gets sent
 * next (intermediate states are dropped, never queued). `finish` waits for an update still in
 * flight (one held up by a 429 included) so the answer is always the last write. Progress
 * writes carry the blocks `controls` makes of their text (a Stop button); the answer carries none.
 */
export class LiveMessage {
  private ts: string | undefined;
  private pending: string | undefined;
  private shown: string | undefined;
  private lastStart = Number.NEGATIVE_INFINITY;
  private loop: Promise<void> | undefined;
  private closed = false;
  private opening: Promise<void> | undefined;
  private readonly wake = new AbortController();

  constructor(
    private readonly writer: MessageWriter,
    private readonly intervalMs: number,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    private readonly controls: (text: string) => Blocks | undefined = () => undefined,
  ) {}

  /** The posted message's `ts`, once `open` succeeded. */
  get messageTs(): string | undefined {
    return this.ts;
  }

  /**
   * Posts the message. A failure is logged, not thrown: the answer is then posted as a new message.
   * Callers need not wait for it (a 429 may hold it for seconds); `finish` does.
   */
  open(text: string): Promise<void> {
    this.opening ??= this.post(text);
    return this.opening;
  }

  private async post(text: string): Promise<void> {
    this.lastStart = this.clock.now();
    try {
      this.ts = await this.writer.post(text, this.controls(text));
      this.shown = text;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not post the progress message");
    }
    if (this.pending !== undefined && !this.loop) this.loop = this.drain();
  }

  /** Asks for `text` to be shown; returns at once. */
  show(text: string): void {
    if (this.closed || text === (this.pending ?? this.shown)) return;
    this.pending = text;
    if (this.ts && !this.loop) this.loop = this.drain();
  }

  /**
   * Replaces the message with `chunks[0]` and posts the rest after it, in order. Later `show`
   * calls are ignored.
   */
  async finish(chunks: string[]): Promise<void> {
    await this.close();
    await replaceWith(this.writer, this.ts, chunks, this.log);
  }

  /**
   * Stops updating and leaves the message as it is (someone else writes its end). Waits for an
   * update still in flight, so nothing from here lands after whatever comes next.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = undefined;
    this.wake.abort();
    // Without the progress message's ts the answer would land beside it, leaving it spinning.
    await this.opening;
    await this.loop;
  }

  private async drain(): Promise<void> {
    while (this.pending !== undefined && !this.closed && this.ts) {
      const wait = this.lastStart + this.intervalMs - this.clock.now();
      if (wait > 0) await this.clock.sleep(wait, this.wake.signal);
      if (this.closed || this.pending === undefined) break;
      const text = this.pending;
      this.pending = undefined;
      this.lastStart = this.clock.now();
      try {
        await this.writer.update(this.ts, text, this.controls(text));
        this.shown = text;
      } catch (err) {
        // A lost progress update is harmless: the next one (or the answer) carries the whole state.
        this.log.warn({ err: (err as Error).message }, "progress update failed");
      }
    }
    this.loop = undefined;
  }
}

/**
 * Replaces the message `ts` (when there is one) with `chunks[0]` and posts the rest after it, in
 * order; when the edit fails (or there is no message), every chunk is posted. The one way an
 * answer is written, by the turn that waited for it and by a later hand-over alike.
 */
export async function replaceWith(writer: MessageWriter, ts: string | undefined, chunks: string[], log: Logger): Promise<void> {
  const [first = "", ...rest] = chunks;
  let replaced = false;
  if (ts) {
    try {
      await writer.update(ts, first);
      replaced = true;
    } catch (err) {
      log.warn({ err: (err as Error).message }, "could not replace the progress message; posting the answer instead");
    }
  }
  for (const text of replaced ? rest : [first, ...rest]) await writer.post(text);
}
