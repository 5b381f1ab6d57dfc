import type { Redis } from "ioredis";
import type { Binding, BindingStore } from "../../bindings/binding.js";

const TTL_SECONDS = 7 * 24 * 3600;

/** Bindings in Redis, refreshed on every write; a week without a turn lets one lapse. */
export class RedisBindingStore implements BindingStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async get(id: string): Promise<Binding | undefined> {
    const raw = await this.redis.get(`${this.prefix}binding:${id}`);
    return raw ? (JSON.parse(raw) as Binding) : undefined;
  }

  async set(binding: Binding): Promise<void> {
    await this.redis.set(`${this.prefix}binding:${binding.opencodeSessionId}`, JSON.stringify(binding), "EX", TTL_SECONDS);
  }
}
