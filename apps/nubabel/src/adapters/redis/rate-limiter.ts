import type { Redis } from "ioredis";
import { runScript } from "@nubabel/contracts";
import type { RateLimiter } from "../../limits/rate-limiter.js";

const HIT = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
`;

/** `RateLimiter` on Redis: one counter per key and window, set to expire with the window. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const [count, ttl] = (await runScript(this.redis, HIT, 1, `${this.prefix}rate:${key}`, windowMs)) as [number, number];
    return { allowed: count <= limit, retryAfterMs: Math.max(0, ttl) };
  }
}
