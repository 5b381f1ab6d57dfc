import { LRUCache } from "lru-cache";
import { RUN_TTL_SECONDS, type RunStore } from "../../runs/run-store.js";
import type { Run } from "../../runs/run.js";

/** In-process runs, bounded in number and age; a restart forgets them (Redis keeps them). */
export class MemoryRunStore implements RunStore {
  private readonly runs = new LRUCache<string, Run>({ max: 10_000, ttl: RUN_TTL_SECONDS * 1000 });

  async get(runId: string): Promise<Run | undefined> {
    // `peek`, not `get`: a read does not keep a run, so past the cap the least recently saved goes.
    return this.runs.peek(runId);
  }

  async create(run: Run): Promise<boolean> {
    if (this.runs.peek(run.runId)) return false;
    this.runs.set(run.runId, run);
    return true;
  }

  async save(run: Run): Promise<void> {
    this.runs.set(run.runId, run);
  }
}
