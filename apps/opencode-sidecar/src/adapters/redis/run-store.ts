import type { Redis } from "ioredis";
import { RUN_TTL_SECONDS, type RunStore, StoreUnavailableError } from "../../runs/run-store.js";
import type { Run } from "../../runs/run.js";

/** Runs in Redis (`<prefix>run:<runId>`), so a restarted sidecar still answers for them. */
export class RedisRunStore implements RunStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async get(runId: string): Promise<Run | undefined> {
    const raw = await this.call(() => this.redis.get(this.key(runId)));
    return raw ? (JSON.parse(raw) as Run) : undefined;
  }

  async create(run: Run): Promise<boolean> {
    const ok = await this.call(() => this.redis.set(this.key(run.runId), JSON.stringify(run), "EX", RUN_TTL_SECONDS, "NX"));
    return ok === "OK";
  }

  async save(run: Run): Promise<void> {
    await this.call(() => this.redis.set(this.key(run.runId), JSON.stringify(run), "EX", RUN_TTL_SECONDS));
  }

  private key(runId: string): string {
    return `${this.prefix}run:${runId}`;
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new StoreUnavailableError(`Redis did not answer: ${(err as Error).message}`);
    }
  }
}
