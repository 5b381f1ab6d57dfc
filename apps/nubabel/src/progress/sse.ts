import type { ProgressEvent, StreamEvent } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import { compareIds, type Entry, type ProgressLog } from "./progress-log.js";

export interface SseSink {
  /** Writes raw SSE text; false when the connection is gone. */
  write(chunk: string): boolean;
  /** Registers the one cleanup to run when the client goes away. */
  onClose(cleanup: () => void): void;
}

/** One SSE frame: `id:` always, the event (with its id and session) as JSON `data:`. */
export function frame(id: string, sessionId: string, event: ProgressEvent): string {
  const data: StreamEvent = { ...event, id, sessionId };
  return `id: ${id}\ndata: ${JSON.stringify(data)}\n\n`;
}

/**
 * Streams a session's progress to one client, gap-free and without duplicates: it subscribes
 * first, then reads the log after `afterId`. A live notification of the entry right after the
 * last one sent (its `prev` is that id) is sent as it comes; any other (one was lost, or a read is
 * under way) makes it read again after the last id it sent. So events reach the client in log
 * order whatever the notifications do. The first frame is `connected`, whose id is the position
 * the stream resumes from (a reconnect with it misses nothing).
 */
export async function streamSession(options: {
  log: ProgressLog;
  /** The session's log (`streamOf(organizationId, sessionId)`). */
  stream: string;
  sessionId: string;
  /** Resume after this id; undefined follows only what comes next. */
  afterId: string | undefined;
  heartbeatMs: number;
  sink: SseSink;
  logger: Pick<Logger, "warn" | "debug">;
}): Promise<void> {
  const { log, stream, sessionId, sink, logger } = options;
  let cursor = options.afterId ?? (await log.lastId(stream));
  let closed = false;
  let pumping: Promise<void> | undefined;
  let again = false;

  const pump = (): Promise<void> => {
    if (pumping) {
      again = true;
      return pumping;
    }
    pumping = (async () => {
      do {
        again = false;
        let batch: Entry[];
        do {
          batch = await log.readAfter(stream, cursor, 200);
          for (const entry of batch) {
            if (closed || compareIds(entry.id, cursor) <= 0) continue;
            sink.write(frame(entry.id, sessionId, entry.event));
            cursor = entry.id;
          }
        } while (batch.length === 200 && !closed);
      } while (again && !closed);
    })()
      .catch((err: Error) => logger.warn({ sessionId, err: err.message }, "progress read failed"))
      .finally(() => {
        pumping = undefined;
      });
    return pumping;
  };

  const onAppend = (entry: Entry) => {
    if (closed) return;
    if (pumping || entry.prev === undefined || entry.prev !== cursor) return void pump();
    // The next entry, as the log holds it: no need to read it back.
    sink.write(frame(entry.id, sessionId, entry.event));
    cursor = entry.id;
  };
  const unsubscribe = await log.subscribe(stream, onAppend);
  const heartbeat = setInterval(() => sink.write(": heartbeat\n\n"), options.heartbeatMs);
  sink.onClose(() => {
    closed = true;
    clearInterval(heartbeat);
    void unsubscribe().catch(() => undefined);
    logger.debug({ sessionId }, "stream closed");
  });
  sink.write(frame(cursor, sessionId, { type: "connected", data: { sessionId }, timestamp: new Date().toISOString() }));
  await pump();
}
