import type { ProgressEvent } from "@nubabel/contracts";

/** One logged event and its id in the session's replay log (the SSE `id:`). */
export interface Entry {
  id: string;
  event: ProgressEvent;
  /**
   * On a live notification: the id of the entry before it in the log (`START` for the first). A
   * reader that has sent up to exactly that id may send this one next without reading the log.
   */
  prev?: string;
}

/** The id before every entry: `readAfter(s, START)` replays the whole retained log. */
export const START = "0-0";

/**
 * A session's progress (`stream` is `streamOf(organizationId, sessionId)`): an ordered, trimmed replay log plus live notification across every
 * instance sharing the backend. Ids have the Redis Streams shape `<ms>-<seq>`, increase strictly
 * within a session, and compare with `compareIds`.
 */
export interface ProgressLog {
  /**
   * Appends and notifies subscribers (here and on other instances); returns the new id. Appends
   * made one after another without waiting between them are stored in the order they were made
   * (one round trip for a batch of events, in order).
   */
  append(sessionId: string, event: ProgressEvent): Promise<string>;
  /** Entries with ids greater than `afterId`, oldest first, at most `limit`. */
  readAfter(sessionId: string, afterId: string, limit?: number): Promise<Entry[]>;
  /** The newest id, or `START` when the log is empty. */
  lastId(sessionId: string): Promise<string>;
  /**
   * Calls `onAppend` for each entry appended after the subscription is active, with its `prev`.
   * Delivery is a hint (one may be lost, in a reconnection): a reader whose last id is not the
   * entry's `prev` fetches with `readAfter` to stay gap-free.
   */
  subscribe(sessionId: string, onAppend: (entry: Entry) => void): Promise<() => Promise<void>>;
  /**
   * Calls `onEnded` with the run id of every event that ends a run (`isTerminal`, with a `runId`)
   * appended to any session's log, here or on another instance: one subscription for all sessions,
   * so a caller waiting for a run need not subscribe per run. A hint, as `subscribe`'s.
   */
  watchEndings(onEnded: (runId: string) => void): Promise<() => Promise<void>>;
}

/**
 * The log a session's progress goes to. Sessions are keyed by (organization, id), so their logs
 * are too; `/` appears in neither kind of id.
 */
export function streamOf(organizationId: string, sessionId: string): string {
  return `${organizationId}/${sessionId}`;
}

/** Orders two log ids; negative when `a` comes first. */
export function compareIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split("-").map(Number);
  const [bm = 0, bs = 0] = b.split("-").map(Number);
  return am === bm ? as - bs : am - bm;
}

/** True for something shaped like a log id (a client's `Last-Event-ID` is untrusted input). */
export function isLogId(id: string): boolean {
  return /^\d{1,15}-\d{1,15}$/.test(id) || /^\d{1,15}$/.test(id);
}

/** Normalises a bare `<ms>` (or `0`) to `<ms>-0`. */
export function normalizeId(id: string): string {
  return id.includes("-") ? id : `${id}-0`;
}
