import { RateLimiterMemory } from "rate-limiter-flexible";
import { FlexibleRateLimiter } from "../../limits/rate-limiter.js";

/** In-process `RateLimiter` (single instance). */
export class MemoryRateLimiter extends FlexibleRateLimiter {
  constructor() {
    super((allowance) => new RateLimiterMemory(allowance));
  }
}
