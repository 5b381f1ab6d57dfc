import { within } from "./waits.js";

/**
 * Background work repeated on a timer (sweeps, reconciliation, heartbeats), one pass at a time: a
 * tick that comes while a pass still runs is skipped, so a slow database or sidecar never stacks
 * passes up. The timers never hold the process open; a pass's rejection goes to `onError` and the
 * next tick runs as usual, even when `onError` itself throws.
 */
export interface Periodic {
  /** Stops the timer and waits, up to `waitMs`, for a pass in flight (one stuck on a dead dependency is left). */
  stop(waitMs?: number): Promise<void>;
}

export interface PeriodicOptions {
  everyMs: number;
  /** When the first pass runs: 0 at once (synchronously started); by default after `everyMs`. */
  firstAfterMs?: number;
  onError?: (err: Error) => void;
}

export function every(options: PeriodicOptions, pass: () => Promise<unknown>): Periodic {
  let running: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    if (stopped || running) return;
    // Started now, and a pass that throws before its first await is a failed pass, not a crash.
    running = (async () => pass())()
      .then(
        () => undefined,
        (err: unknown) => options.onError?.(err instanceof Error ? err : new Error(String(err))),
      )
      // An onError that throws has nowhere left to report to; it must not become an unhandled
      // rejection, which ends the process.
      .catch(() => undefined)
      .finally(() => (running = undefined));
  };
  const timer = setInterval(tick, options.everyMs).unref();
  const first = options.firstAfterMs ? setTimeout(tick, options.firstAfterMs).unref() : undefined;
  if (options.firstAfterMs === 0) tick();
  return {
    async stop(waitMs = 5_000) {
      stopped = true;
      clearInterval(timer);
      clearTimeout(first);
      if (running) await within(running, waitMs);
    },
  };
}
