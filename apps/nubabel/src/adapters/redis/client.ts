import { Redis } from "ioredis";
import type { Logger } from "../../log/logger.js";

/**
 * A Redis connection that fails fast while Redis is away: no offline queue and a command timeout,
 * so a cache outage costs milliseconds, and callers fall back instead of hanging. It keeps
 * reconnecting in the background.
 */
export function connectRedis(url: string, logger: Logger, role: string): Redis {
  const log = logger.child({ module: "redis", role });
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    // Commands issued in the same tick share one write: many concurrent callbacks, few syscalls.
    enableAutoPipelining: role !== "subscriber",
  });
  let down = false;
  redis.on("error", (err: Error) => {
    if (!down) log.warn({ err: err.message }, "redis unavailable");
    down = true;
  });
  redis.on("ready", () => {
    if (down) log.info("redis reconnected");
    down = false;
  });
  return redis;
}

/** Connects, waiting at most a moment: a Redis that is down at start is reported, not fatal. */
export async function tryConnect(redis: Redis, logger: Logger): Promise<boolean> {
  try {
    await redis.connect();
    return true;
  } catch (err) {
    logger.warn({ module: "redis", err: (err as Error).message }, "redis not reachable at start; continuing and retrying");
    return false;
  }
}
