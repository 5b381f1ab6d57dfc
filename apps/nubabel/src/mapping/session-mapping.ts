import type { Logger } from "../log/logger.js";
import type { MappingCache, MappingRecord, MappingStore } from "./ports.js";

export type { MappingCache, MappingRecord, MappingStore } from "./ports.js";

/**
 * Nubabel session ↔ OpenCode session, both ways. PostgreSQL is the truth and is written first;
 * Redis is a read-through cache re-warmed on every miss. A cache that is flushed, slow or down
 * costs a database read, never a wrong answer: its errors are logged and treated as misses.
 */
export class SessionMapping {
  private readonly log: Logger;

  constructor(
    private readonly store: MappingStore,
    private readonly cache: MappingCache,
    logger: Logger,
    private readonly ttlSeconds = 24 * 3600,
  ) {
    this.log = logger.child({ module: "mapping" });
  }

  /**
   * Records a new mapping and returns the one in force (an earlier writer's, if it raced this one).
   * `logger`, here and below, is the caller's, so warnings carry its request id.
   */
  async record(record: MappingRecord, logger?: Logger): Promise<MappingRecord> {
    const stored = await this.store.insert(record);
    await this.warm(stored, this.logFor(logger));
    return stored;
  }

  /** Moves the session to a new OpenCode session (see `MappingStore.move`); returns the mapping in force. */
  async move(record: MappingRecord, fromOpencodeSessionId: string, logger?: Logger): Promise<MappingRecord> {
    const stored = await this.store.move(record, fromOpencodeSessionId);
    await this.warm(stored, this.logFor(logger));
    return stored;
  }

  /** Of `among`, the sidecar holding the organization's latest session (where its workspace is). */
  latestSidecar(organizationId: string, among: string[]): Promise<string | undefined> {
    return this.store.latestSidecar(organizationId, among);
  }

  async bySession(organizationId: string, sessionId: string, logger?: Logger): Promise<MappingRecord | undefined> {
    return this.read(
      () => this.cache.bySession(organizationId, sessionId),
      () => this.store.bySession(organizationId, sessionId),
      { sessionId },
      this.logFor(logger),
    );
  }

  async byOpencode(opencodeSessionId: string, logger?: Logger): Promise<MappingRecord | undefined> {
    return this.read(
      () => this.cache.byOpencode(opencodeSessionId),
      () => this.store.byOpencode(opencodeSessionId),
      { opencodeSessionId },
      this.logFor(logger),
    );
  }

  private logFor(logger: Logger | undefined): Logger {
    return logger ? logger.child({ module: "mapping" }) : this.log;
  }

  private async read(
    fromCache: () => Promise<MappingRecord | undefined>,
    fromStore: () => Promise<MappingRecord | undefined>,
    ctx: Record<string, string>,
    log: Logger,
  ): Promise<MappingRecord | undefined> {
    try {
      const hit = await fromCache();
      if (hit) return hit;
    } catch (err) {
      log.warn({ ...ctx, err: errText(err) }, "mapping cache unavailable; reading the database");
    }
    const found = await fromStore();
    if (found) await this.warm(found, log);
    return found;
  }

  private async warm(record: MappingRecord, log: Logger): Promise<void> {
    try {
      await this.cache.put(record, this.ttlSeconds);
    } catch (err) {
      log.warn({ sessionId: record.sessionId, err: errText(err) }, "could not warm the mapping cache");
    }
  }
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
