import type { Redis } from "ioredis";
import type { CacheChanges } from "../../cache/changes.js";
import type { Logger } from "../../log/logger.js";
import { connectRedis } from "./client.js";

/**
 * `CacheChanges` over Redis pub/sub: one channel (`<prefix>cache:changed`), subscribed once on the
 * shared subscriber connection the first time something listens; messages are `<cache> <key>`.
 */
export class RedisCacheChanges implements CacheChanges {
  private readonly listeners = new Map<string, Set<(key: string) => void>>();
  private subscribed?: Promise<unknown>;

  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    subscriber.on("message", (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const space = message.indexOf(" ");
      for (const onChange of this.listeners.get(message.slice(0, space)) ?? []) onChange(message.slice(space + 1));
    });
  }

  announce(cache: string, key: string): void {
    void this.redis.publish(this.channel, message(cache, key)).catch((err: Error) => this.log.warn({ cache, err: err.message }, "could not announce a change to other instances; their copies expire instead"));
  }

  listen(cache: string, onChange: (key: string) => void): void {
    const set = this.listeners.get(cache) ?? new Set();
    set.add(onChange);
    this.listeners.set(cache, set);
    this.subscribed ??= this.subscriber.subscribe(this.channel).catch((err: Error) => {
      this.log.warn({ err: err.message }, "cannot hear of changes made on other instances; cached settings expire instead");
      this.subscribed = undefined;
    });
  }

  private get channel(): string {
    return channelOf(this.prefix);
  }
}

const channelOf = (prefix: string) => `${prefix}cache:changed`;
const message = (cache: string, key: string) => `${cache} ${key}`;

/**
 * Announcements from a process that runs no server (the CLI, changing the database directly):
 * connects, publishes, disconnects. False when Redis could not be told (the copies expire instead).
 */
export async function announceOnce(url: string, prefix: string, cache: string, keys: string[], logger: Logger): Promise<boolean> {
  const redis = connectRedis(url, logger, "announce");
  try {
    await redis.connect();
    for (const key of keys) await redis.publish(channelOf(prefix), message(cache, key));
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}
