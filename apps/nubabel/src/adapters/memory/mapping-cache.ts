import { LRUCache } from "lru-cache";
import type { MappingCache, MappingRecord } from "../../mapping/ports.js";

/**
 * In-process `MappingCache` with expiry, holding the most recently used records (two keys each).
 * Losing one is only a miss: the caller reads the database instead.
 */
export class MemoryMappingCache implements MappingCache {
  // Each `put` gives its own ttl.
  private readonly entries = new LRUCache<string, MappingRecord>({ max: 100_000 });

  async bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined> {
    return this.entries.get(`s:${organizationId}:${sessionId}`);
  }

  async byOpencode(opencodeSessionId: string): Promise<MappingRecord | undefined> {
    return this.entries.get(`o:${opencodeSessionId}`);
  }

  async put(record: MappingRecord, ttlSeconds: number): Promise<void> {
    // A ttl of 0 means "never expires" to lru-cache; an entry here always does.
    const ttl = Math.max(1, ttlSeconds * 1000);
    this.entries.set(`s:${record.organizationId}:${record.sessionId}`, record, { ttl });
    this.entries.set(`o:${record.opencodeSessionId}`, record, { ttl });
  }

  /** Forgets everything, as a Redis flush would. */
  clear(): void {
    this.entries.clear();
  }
}
