import type { MappingCache, MappingRecord } from "../../mapping/ports.js";

/** In-process `MappingCache` with expiry. */
export class MemoryMappingCache implements MappingCache {
  private readonly entries = new Map<string, { record: MappingRecord; expires: number }>();

  async bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined> {
    return this.read(`s:${organizationId}:${sessionId}`);
  }

  async byOpencode(opencodeSessionId: string): Promise<MappingRecord | undefined> {
    return this.read(`o:${opencodeSessionId}`);
  }

  async put(record: MappingRecord, ttlSeconds: number): Promise<void> {
    const now = Date.now();
    // Expired entries are otherwise dropped only when read; sweep before growing large.
    if (this.entries.size > 50_000) {
      for (const [key, entry] of this.entries) if (entry.expires <= now) this.entries.delete(key);
    }
    const expires = now + ttlSeconds * 1000;
    this.entries.set(`s:${record.organizationId}:${record.sessionId}`, { record, expires });
    this.entries.set(`o:${record.opencodeSessionId}`, { record, expires });
  }

  /** Forgets everything, as a Redis flush would. */
  clear(): void {
    this.entries.clear();
  }

  private read(key: string): MappingRecord | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.expires <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.record;
  }
}
