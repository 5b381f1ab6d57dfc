import type { Redis } from "ioredis";
import { RateLimiterRedis } from "rate-limiter-flexible";
import { FlexibleRateLimiter, type LimiterFactory } from "../../limits/rate-limiter.js";

/**
 * `RateLimiter` on Redis, one counter per key and window (`<prefix>rate:<key>`, expiring with it).
 * The connection fails fast while Redis is away (adapters/redis/client.ts), and the caller then
 * lets the request through.
 */
export class RedisRateLimiter extends FlexibleRateLimiter {
  constructor(redis: Redis, prefix: string) {
    const make: LimiterFactory = (allowance) => new RateLimiterRedis({ ...allowance, storeClient: redis, keyPrefix: `${prefix}rate` });
    // Making a limiter defines its Lua script as a command of the client. Defined first while
    // commands of that tick wait to be pipelined, the pipeline lacks it and ioredis throws outside
    // any promise, ending the process (redis/ioredis#1931): so it is defined now, before any use.
    make({ points: 1, duration: 1 });
    super(make);
  }
}
