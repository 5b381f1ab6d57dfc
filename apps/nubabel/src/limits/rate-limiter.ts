import { type RateLimiterAbstract, RateLimiterRes } from "rate-limiter-flexible";

/**
 * Fixed-window counters, shared by every instance on Redis. `hit` counts one request against `key`
 * and says whether it is within `limit` for the current window.
 */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }>;
}

/** Makes rate-limiter-flexible's limiter for one allowance: `points` per `duration` seconds. */
export type LimiterFactory = (allowance: { points: number; duration: number }) => RateLimiterAbstract;

/**
 * `RateLimiter` on rate-limiter-flexible: one of its limiters per allowance the callers use (a
 * handful, from configuration), each counting every key. Its store (memory, Redis) is the factory's.
 */
export class FlexibleRateLimiter implements RateLimiter {
  private readonly limiters = new Map<string, RateLimiterAbstract>();

  constructor(private readonly make: LimiterFactory) {}

  async hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const allowance = `${limit}/${windowMs}`;
    let limiter = this.limiters.get(allowance);
    if (!limiter) this.limiters.set(allowance, (limiter = this.make({ points: limit, duration: windowMs / 1000 })));
    try {
      const counted = await limiter.consume(key);
      return { allowed: true, retryAfterMs: counted.msBeforeNext };
    } catch (err) {
      // The library refuses by rejecting with the count; any other rejection (Redis away) is the caller's.
      if (err instanceof RateLimiterRes) return { allowed: false, retryAfterMs: err.msBeforeNext };
      throw err;
    }
  }
}
