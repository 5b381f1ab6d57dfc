import type { Redis } from "ioredis";
import type { Webhooks } from "@nubabel/contracts";

/** `ReplayGuard` on Redis: `SET webhook:<id> NX EX`, so a replay is caught by whichever instance it reaches. */
export class RedisReplayGuard implements Webhooks.ReplayGuard {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async claim(id: string, ttlSeconds: number): Promise<boolean> {
    const ok = await this.redis.set(`${this.prefix}webhook:${id}`, "1", "EX", ttlSeconds, "NX");
    return ok === "OK";
  }
}
