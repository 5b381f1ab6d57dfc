import type { Logger } from "../logger.js";

export interface WatchdogOptions {
  /** One cheap call to the engine; resolves when it answered. */
  probe: (signal: AbortSignal) => Promise<unknown>;
  /** Ends the engine's process, saying why; its supervisor starts a new one. */
  kill: (reason: string) => void;
  /** How long the engine may leave every probe unanswered before it is killed (`ENGINE_UNRESPONSIVE_MS`). */
  unresponsiveMs: number;
  log: Logger;
}

/**
 * Restarts an engine that stops answering. A wedged process (stopped, deadlocked, stuck in a loop)
 * does not exit, so its supervisor never sees it die, and every call would time out until someone
 * killed it by hand. Four times per `unresponsiveMs` it asks the engine's health; when nothing has
 * answered for `unresponsiveMs`, the engine is killed. A busy engine still answers a health call,
 * so the bound is generous: only one that answers nothing at all for that long is killed.
 */
export class EngineWatchdog {
  private timer: NodeJS.Timeout | undefined;
  private lastAnswer = 0;
  private lastTick = 0;
  private probing = false;

  constructor(private readonly o: WatchdogOptions) {}

  /** Watches a newly started engine: the clock starts now. */
  start(): void {
    this.stop();
    this.lastAnswer = this.lastTick = Date.now();
    const every = Math.max(Math.floor(this.o.unresponsiveMs / 4), 100);
    this.timer = setInterval(() => void this.tick(every), every);
    this.timer.unref();
  }

  /** The engine is down or stopping: nothing to watch until it is up again. */
  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async tick(every: number): Promise<void> {
    const now = Date.now();
    // Ticks that came late say this process stalled (a paused container, a host asleep), not the
    // engine: its silence is counted again from now rather than held against it.
    if (now - this.lastTick > 2 * every) this.lastAnswer = now;
    this.lastTick = now;
    const silentMs = now - this.lastAnswer;
    if (silentMs >= this.o.unresponsiveMs) {
      this.stop();
      const reason = `the OpenCode engine answered nothing for ${silentMs} ms (ENGINE_UNRESPONSIVE_MS is ${this.o.unresponsiveMs}) and was restarted`;
      this.o.log.error({ silentMs }, "engine unresponsive; killing it");
      this.o.kill(reason);
      return;
    }
    // One probe at a time: a frozen engine must not pile them up.
    if (this.probing) return;
    this.probing = true;
    const timer = this.timer;
    try {
      // Bounded by the whole period: a slow answer is still an answer.
      await this.o.probe(AbortSignal.timeout(this.o.unresponsiveMs));
      // An answer that arrives after the engine was replaced says nothing of the new one.
      if (this.timer === timer) this.lastAnswer = Date.now();
    } catch {
      // Silence is what counts, not one failed probe: the next tick decides.
    } finally {
      this.probing = false;
    }
  }
}
