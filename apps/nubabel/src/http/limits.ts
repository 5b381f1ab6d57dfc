import type { FastifyRequest } from "fastify";
import type { RateLimiter } from "../limits/rate-limiter.js";
import { RateLimited } from "./errors.js";

const MINUTE = 60_000;

/**
 * Counts one request against each `key` (per-minute `limit`). The limiter failing (Redis down)
 * lets the request through: losing rate limiting for a while beats refusing all traffic.
 */
export async function enforce(
  limiter: RateLimiter,
  request: FastifyRequest,
  checks: Array<{ key: string; limit: number; scope: string }>,
): Promise<void> {
  let verdicts: Array<{ allowed: boolean; retryAfterMs: number }>;
  try {
    // Counted together (one round trip); the first refusing allowance is the one named.
    verdicts = await Promise.all(checks.map((check) => limiter.hit(check.key, check.limit, MINUTE)));
  } catch (err) {
    request.log.warn({ err: (err as Error).message }, "rate limiter unavailable; allowing");
    return;
  }
  const refused = verdicts.findIndex((verdict) => !verdict.allowed);
  if (refused >= 0) throw new RateLimited(checks[refused]!.scope, verdicts[refused]!.retryAfterMs);
}
