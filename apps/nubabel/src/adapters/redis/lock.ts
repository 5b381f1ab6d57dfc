import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Lock } from "../../delegation/lock.js";

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/** `Lock` on Redis: `SET key token NX PX ttl`, released by compare-and-delete. */
export class RedisLock implements Lock {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomUUID();
    const ok = await this.redis.set(`${this.prefix}lock:${key}`, token, "PX", ttlMs, "NX");
    return ok === "OK" ? token : undefined;
  }

  async release(key: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, `${this.prefix}lock:${key}`, token);
  }
}
