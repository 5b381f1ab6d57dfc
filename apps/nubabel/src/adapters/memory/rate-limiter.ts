import type { RateLimiter } from "../../limits/rate-limiter.js";

/** In-process `RateLimiter` (single instance). */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resets: number }>();

  async hit(key: string, limit: number, windowMs: number): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const now = Date.now();
    if (this.windows.size > 50_000) {
      for (const [k, w] of this.windows) if (w.resets <= now) this.windows.delete(k);
    }
    let w = this.windows.get(key);
    if (!w || w.resets <= now) {
      w = { count: 0, resets: now + windowMs };
      this.windows.set(key, w);
    }
    w.count += 1;
    return { allowed: w.count <= limit, retryAfterMs: Math.max(0, w.resets - now) };
  }
}
