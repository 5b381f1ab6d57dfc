import { QueueFullError } from "./errors.js";

interface Lane {
  tail: Promise<unknown>;
  size: number;
  current?: AbortController;
}

/**
 * Serializes work per OpenCode session (the engine would merge concurrent prompts into one turn),
 * with a bound on how many may wait; different sessions run side by side.
 */
export class SessionQueue {
  private readonly lanes = new Map<string, Lane>();

  constructor(private readonly limit: number) {}

  /** Throws `QueueFullError` when the session's line is full: check before accepting work for it. */
  assertRoom(sessionId: string): void {
    const size = this.lanes.get(sessionId)?.size ?? 0;
    if (size > this.limit) {
      throw new QueueFullError(`${size - 1} prompts are already waiting for this session; try again when they finish`);
    }
  }

  run<T>(sessionId: string, task: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.assertRoom(sessionId);
    const lane = this.lanes.get(sessionId) ?? { tail: Promise.resolve(), size: 0 };
    this.lanes.set(sessionId, lane);
    lane.size += 1;
    const result = lane.tail.then(async () => {
      const controller = new AbortController();
      lane.current = controller;
      try {
        return await task(controller.signal);
      } finally {
        lane.current = undefined;
      }
    });
    lane.tail = result
      .catch(() => undefined)
      .finally(() => {
        lane.size -= 1;
        if (lane.size === 0) this.lanes.delete(sessionId);
      });
    return result;
  }

  /** Whether anything runs or waits for the session. */
  busy(sessionId: string): boolean {
    return this.lanes.has(sessionId);
  }

  /** Aborts the running task of the session; false when none runs. */
  abort(sessionId: string): boolean {
    const current = this.lanes.get(sessionId)?.current;
    if (!current) return false;
    current.abort();
    return true;
  }
}
