import type { Redis } from "ioredis";
import type { MappingCache, MappingRecord } from "../../mapping/ports.js";

/**
 * `MappingCache` on Redis: `session:mapping:<organizationId>:<sessionId>` and `session:mapping-oc:<opencodeSessionId>`
 * each hold the whole record as JSON. Two namespaces, because a caller-chosen session id could
 * otherwise equal an OpenCode id.
 */
export class RedisMappingCache implements MappingCache {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined> {
    return this.read(`${this.prefix}session:mapping:${organizationId}:${sessionId}`);
  }

  byOpencode(opencodeSessionId: string): Promise<MappingRecord | undefined> {
    return this.read(`${this.prefix}session:mapping-oc:${opencodeSessionId}`);
  }

  async put(record: MappingRecord, ttlSeconds: number): Promise<void> {
    const value = JSON.stringify(record);
    await this.redis
      .multi()
      .set(`${this.prefix}session:mapping:${record.organizationId}:${record.sessionId}`, value, "EX", ttlSeconds)
      .set(`${this.prefix}session:mapping-oc:${record.opencodeSessionId}`, value, "EX", ttlSeconds)
      .exec();
  }

  private async read(key: string): Promise<MappingRecord | undefined> {
    const raw = await this.redis.get(key);
    return raw ? (JSON.parse(raw) as MappingRecord) : undefined;
  }
}
