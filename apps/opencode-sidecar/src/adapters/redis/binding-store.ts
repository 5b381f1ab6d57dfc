import type { Redis } from "ioredis";
import type { Binding, BindingStore } from "../../bindings/binding.js";
import type { TokenSeal } from "./sealed-token.js";

const TTL_SECONDS = 7 * 24 * 3600;

/**
 * Bindings in Redis, refreshed on every write; a week without a turn lets one lapse. The
 * capability token is stored sealed (`sealedToken`), never as it is.
 */
export class RedisBindingStore implements BindingStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly seal: TokenSeal,
  ) {}

  async get(id: string): Promise<Binding | undefined> {
    const raw = await this.redis.get(`${this.prefix}binding:${id}`);
    if (!raw) return undefined;
    const { sealedToken, ...binding } = JSON.parse(raw) as Binding & { sealedToken?: string };
    const token = sealedToken ? this.seal.open(sealedToken) : undefined;
    return { ...binding, ...(token ? { callbackToken: token } : {}) };
  }

  async set(binding: Binding): Promise<void> {
    const { callbackToken, ...rest } = binding;
    const stored = { ...rest, ...(callbackToken ? { sealedToken: this.seal.seal(callbackToken) } : {}) };
    await this.redis.set(`${this.prefix}binding:${binding.opencodeSessionId}`, JSON.stringify(stored), "EX", TTL_SECONDS);
  }
}
