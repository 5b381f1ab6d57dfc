import { createHash } from "node:crypto";
import { LRUCache } from "lru-cache";

/**
 * Remembers which messages were seen. `claim` is atomic: it answers true the first time a key is
 * claimed within `ttlSeconds`, false for a replay. `signedAt` (Unix seconds), when given, lets a
 * guard that lost its memory refuse what was signed before it noticed (see the Redis guard).
 */
export interface ReplayGuard {
  claim(key: string, ttlSeconds: number, signedAt?: number): Promise<boolean>;
}

/**
 * In-process `ReplayGuard` for a single instance. Bounded by age only, never by count: dropping an
 * unexpired key would let its replay through, so there is no `max`, and each key is removed by its
 * own timer (`ttlAutopurge`) when its ttl ends.
 */
export class MemoryReplayGuard implements ReplayGuard {
  // lru-cache needs a default ttl when there is no max; every `claim` sets its own.
  private readonly seen = new LRUCache<string, true>({ ttl: 1_000, ttlAutopurge: true });

  async claim(key: string, ttlSeconds: number): Promise<boolean> {
    if (this.seen.has(key)) return false;
    // A ttl of 0 means "never expires" to lru-cache; a claim always ends.
    this.seen.set(key, true, { ttl: Math.max(1, ttlSeconds * 1000) });
    return true;
  }
}

/** The part of an ioredis client the guard uses, so this package needs no Redis dependency. */
export interface ScriptRunner {
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
}

/**
 * Runs a Lua script by its SHA1 (Redis hashes and parses a script sent whole on every EVAL), sending
 * the text only when Redis does not have it yet (NOSCRIPT: first use, or after a restart or flush).
 */
export async function runScript(redis: ScriptRunner, script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown> {
  const sha = shaOf(script);
  try {
    return await redis.evalsha(sha, numKeys, ...args);
  } catch (err) {
    if (!String((err as Error).message).startsWith("NOSCRIPT")) throw err;
    return redis.eval(script, numKeys, ...args);
  }
}

const shas = new Map<string, string>();
function shaOf(script: string): string {
  let sha = shas.get(script);
  if (!sha) shas.set(script, (sha = createHash("sha1").update(script).digest("hex")));
  return sha;
}

/**
 * Claims a key with SET NX EX, then answers whether the message was signed before the guard's
 * epoch. The epoch key has no expiry and is written at start: when it is missing, Redis lost its
 * memory (FLUSHDB, a restart without persistence, eviction), so the claims of the last minutes
 * are gone too. The epoch is then set to Redis's clock, and anything signed before it is
 * refused: a captured message cannot be replayed after a flush, while the sender's retries, which
 * are signed afresh, still pass.
 */
const CLAIM = `
local now = tonumber(redis.call('TIME')[1])
local epoch = tonumber(redis.call('GET', KEYS[2]))
if not epoch then
  epoch = now
  redis.call('SET', KEYS[2], epoch)
end
if ARGV[2] ~= '' and tonumber(ARGV[2]) < epoch then return -1 end
if redis.call('SET', KEYS[1], '1', 'EX', ARGV[1], 'NX') then return 1 end
return 0`;

const START = `
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], redis.call('TIME')[1]) end
return 1`;

/** `ReplayGuard` on Redis, shared by every instance using the same prefix. */
export class RedisReplayGuard implements ReplayGuard {
  constructor(
    private readonly redis: ScriptRunner,
    private readonly prefix: string,
  ) {}

  private get epochKey(): string {
    return `${this.prefix}replay:epoch`;
  }

  /** Records the epoch if Redis has none yet: call at start, before accepting messages. */
  async start(): Promise<void> {
    await runScript(this.redis, START, 1, this.epochKey);
  }

  async claim(key: string, ttlSeconds: number, signedAt?: number): Promise<boolean> {
    const answer = Number(await runScript(this.redis, CLAIM, 2, `${this.prefix}${key}`, this.epochKey, ttlSeconds, signedAt ?? ""));
    return answer === 1;
  }
}
