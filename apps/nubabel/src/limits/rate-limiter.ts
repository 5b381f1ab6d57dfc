/**
 * Fixed-window counters shared by every instance (Redis `INCR` + `PEXPIRE`). `hit` counts one
 * request against `key` and says whether it is within `limit` for the current window.
 */
export interface RateLimiter {
  hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }>;
}
