import { LRUCache } from "lru-cache";
import type { CacheChanges } from "./changes.js";

export interface RecentOptions {
  /** How long a read is reused; 0 reads every time. */
  ttlMs: number;
  max?: number;
  /** Where changes made here are announced, and others' heard, under this cache's `name`. */
  changes?: { feed: CacheChanges; name: string };
}

/**
 * What was read recently, per key, for `ttlMs`: the settings read on every run (an organization's
 * budget, webhook endpoints, approval policy; an API key) cost no query on most runs. Concurrent
 * misses share one read, and a value of `undefined` is kept like any other. A change made through
 * this instance is `forget`-ten (or `set`) at once, and a read racing it reads again; other
 * instances drop their copy when they hear of it (`changes`), or else once it expires.
 */
export class Recent<V> {
  private readonly cache?: LRUCache<string, { value: V }>;

  private readonly changes?: RecentOptions["changes"];

  constructor(
    private readonly load: (key: string) => Promise<V>,
    options: RecentOptions,
  ) {
    if (options.ttlMs > 0) {
      this.cache = new LRUCache<string, { value: V }>({
        max: options.max ?? 10_000,
        ttl: options.ttlMs,
        fetchMethod: async (key) => ({ value: await load(key) }),
      });
      this.changes = options.changes;
      this.changes?.feed.listen(this.changes.name, (key) => this.cache?.delete(key));
    }
  }

  async get(key: string): Promise<V> {
    if (!this.cache) return this.load(key);
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.cache.fetch(key))!.value;
      } catch (err) {
        // `forget` or `set` during the read rejects it ("deleted", "replaced"): what it read may
        // predate the change, so it is asked again (and finds the value `set`, if any).
        if (attempt >= 3 || !isSuperseded(err)) throw err;
      }
    }
  }

  /** The value changed here to `value`: kept here, dropped elsewhere. */
  set(key: string, value: V): void {
    this.cache?.set(key, { value });
    this.changes?.feed.announce(this.changes.name, key);
  }

  /** Not kept here (a miss not worth keeping); nothing changed, so nobody else is told. */
  drop(key: string): void {
    this.cache?.delete(key);
  }

  /** The value changed here: read again here and elsewhere. */
  forget(key: string): void {
    this.cache?.delete(key);
    this.changes?.feed.announce(this.changes.name, key);
  }
}

function isSuperseded(err: unknown): boolean {
  return err instanceof Error && (err.message === "deleted" || err.message === "replaced");
}
