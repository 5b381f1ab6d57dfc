import type { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { FlexibleRateLimiter } from "../../limits/rate-limiter.js";

/**
 * `RateLimiter` on Redis, one counter per key and window (`<prefix>rate:<key>`, expiring with it).
 * The connection fails fast while Redis is away (adapters/redis/client.ts), and the caller then
 * lets the request through.
 */
export class RedisRateLimiter extends FlexibleRateLimiter {
  constructor(redis: Redis, prefix: string) {
    super((allowance) => new RateLimiterRedis({ ...allowance, storeClient: redis, keyPrefix: `${prefix}rate` }));
  }
}
