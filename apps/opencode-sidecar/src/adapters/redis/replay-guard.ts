import type { Redis } from "ioredis";
import type { Webhooks } from "@nubabel/contracts";

/** `webhook-id`s claimed with SET NX, so a replay is caught on every sidecar instance. */
export class RedisReplayGuard implements Webhooks.ReplayGuard {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(id: string, ttlSeconds: number): Promise<boolean> {
    return (await this.redis.set(`${this.prefix}webhook:${id}`, "1", "EX", ttlSeconds, "NX")) === "OK";
  }
}
