import { EventEmitter } from "node:events";
import { isTerminal, type ProgressEvent } from "@nubabel/contracts";
import { compareIds, START, type Entry, type ProgressLog } from "../../progress/progress-log.js";

/** The emitter's event for run endings; session streams contain a `/`, so none is named so. */
const ENDINGS = "endings";

/** In-process `ProgressLog` (single instance): arrays trimmed to `maxLen`, an EventEmitter for live delivery. */
export class MemoryProgressLog implements ProgressLog {
  private readonly logs = new Map<string, Entry[]>();
  private readonly emitter = new EventEmitter();
  private lastMs = 0;
  private seq = 0;

  /**
   * @param maxSessions how many sessions' logs to keep: the least recently appended go first, as
   * Redis expires quiet streams, so a long-running single instance does not grow without bound.
   */
  constructor(
    private readonly maxLen = 1_000,
    private readonly maxSessions = 5_000,
  ) {
    // One listener per SSE client; many clients on one session are normal.
    this.emitter.setMaxListeners(0);
  }

  async append(sessionId: string, event: ProgressEvent): Promise<string> {
    const now = Date.now();
    // Same shape and ordering as Redis Streams ids: a clock step back reuses the last millisecond.
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else {
      this.seq += 1;
    }
    const entry = { id: `${this.lastMs}-${this.seq}`, event };
    const log = this.logs.get(sessionId) ?? [];
    const prev = log.at(-1)?.id ?? START;
    log.push(entry);
    if (log.length > this.maxLen) log.splice(0, log.length - this.maxLen);
    // Re-inserting keeps the Map in least-recently-appended order, so the oldest is first.
    this.logs.delete(sessionId);
    this.logs.set(sessionId, log);
    if (this.logs.size > this.maxSessions) this.logs.delete(this.logs.keys().next().value!);
    this.emitter.emit(sessionId, { ...entry, prev });
    if (event.runId && isTerminal(event)) this.emitter.emit(ENDINGS, event.runId);
    return entry.id;
  }

  async readAfter(sessionId: string, afterId: string, limit = 500): Promise<Entry[]> {
    const log = this.logs.get(sessionId) ?? [];
    return log.filter((e) => compareIds(e.id, afterId) > 0).slice(0, limit);
  }

  async lastId(sessionId: string): Promise<string> {
    return this.logs.get(sessionId)?.at(-1)?.id ?? START;
  }

  async subscribe(sessionId: string, onAppend: (entry: Entry) => void): Promise<() => Promise<void>> {
    this.emitter.on(sessionId, onAppend);
    return async () => void this.emitter.off(sessionId, onAppend);
  }

  async watchEndings(onEnded: (runId: string) => void): Promise<() => Promise<void>> {
    this.emitter.on(ENDINGS, onEnded);
    return async () => void this.emitter.off(ENDINGS, onEnded);
  }
}
