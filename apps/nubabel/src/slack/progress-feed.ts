import type { ProgressEvent } from "@nubabel/contracts";
import type { NubabelPort } from "./ports.js";

/** One logged progress event and its id, as Nubabel's progress log stores them. */
export interface ProgressEntry {
  id: string;
  event: ProgressEvent;
}

/**
 * The slice of Nubabel's `ProgressLog` the bot reads (the core's interface satisfies it as is): an
 * ordered replay log plus notifications that are only hints.
 */
export interface ProgressSource {
  lastId(sessionId: string): Promise<string>;
  readAfter(sessionId: string, afterId: string, limit?: number): Promise<ProgressEntry[]>;
  subscribe(sessionId: string, onAppend: (entry: ProgressEntry) => void): Promise<() => Promise<void>>;
}

const PAGE = 200;

/**
 * `NubabelPort.watchProgress` over the progress log. Notifications only wake a reader that pages
 * through the log from a cursor, so events reach `onEvent` once each, in log order, with no gap
 * (cross-instance notifications may arrive late or out of order; the log never does).
 */
export function watchProgressLog(
  source: ProgressSource,
  streamOf: (organizationId: string, sessionId: string) => string,
): NubabelPort["watchProgress"] {
  return async (organizationId, sessionId, onEvent) => {
    const stream = streamOf(organizationId, sessionId);
    let cursor = await source.lastId(stream);
    let reading: Promise<void> | undefined;
    let running = false;
    let again = false;
    let stopped = false;

    const readPages = async (): Promise<void> => {
      for (;;) {
        const page = await source.readAfter(stream, cursor, PAGE);
        for (const entry of page) {
          if (stopped) return;
          cursor = entry.id;
          onEvent(entry.event);
        }
        if (page.length < PAGE) return;
      }
    };
    // One reader at a time; a wake-up during a read makes it go round once more. `running` is
    // cleared in the same step the loop ends, so no wake-up can fall between the two.
    const wake = () => {
      if (stopped) return;
      again = true;
      if (running) return;
      running = true;
      reading = (async () => {
        try {
          while (again && !stopped) {
            again = false;
            await readPages();
          }
        } catch {
          // The log is unreachable for now; the next notification tries again from the cursor.
        } finally {
          running = false;
        }
      })();
    };

    const unsubscribe = await source.subscribe(stream, wake);
    // Anything appended between `lastId` and the subscription going live is read now.
    wake();
    return async () => {
      stopped = true;
      await unsubscribe();
      await reading;
    };
  };
}
