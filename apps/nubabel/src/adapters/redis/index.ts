import type { Redis } from "ioredis";
import { Webhooks } from "@nubabel/contracts";
import type { Logger } from "../../log/logger.js";
import { connectRedis, tryConnect } from "./client.js";
import { RedisCacheChanges } from "./cache-changes.js";
import { RedisMappingCache } from "./mapping-cache.js";
import { RedisProgressLog } from "./progress-log.js";
import { RedisRateLimiter } from "./rate-limiter.js";

/**
 * Every Redis-backed port on two connections (commands, and a subscriber for progress fan-out).
 * Their shutdown is pushed onto `cleanups`.
 */
export async function connectRedisAdapters(
  url: string,
  options: { prefix: string; progressMaxLen: number },
  logger: Logger,
  cleanups: Array<() => Promise<void> | void>,
) {
  const redis = connectRedis(url, logger, "commands");
  const subscriber = connectRedis(url, logger, "subscriber");
  cleanups.push(() => quit(redis), () => quit(subscriber));
  await Promise.all([tryConnect(redis, logger), tryConnect(subscriber, logger)]);
  const { prefix } = options;
  const replayGuard = new Webhooks.RedisReplayGuard(redis, prefix);
  // Best effort: with Redis down now, the first claim records the epoch instead.
  await replayGuard.start().catch(() => undefined);
  return {
    cache: new RedisMappingCache(redis, prefix),
    progress: new RedisProgressLog(redis, subscriber, prefix, options.progressMaxLen),
    replayGuard,
    rateLimiter: new RedisRateLimiter(redis, prefix),
    changes: new RedisCacheChanges(redis, subscriber, prefix, logger.child({ module: "cache" })),
    ping: async () => void (await redis.ping()),
  };
}

async function quit(redis: Redis): Promise<void> {
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
