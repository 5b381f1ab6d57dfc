import { RUN_TTL_SECONDS, type RunStore } from "../../runs/run-store.js";
import type { Run } from "../../runs/run.js";

const MAX_RUNS = 10_000;

/** In-process runs, bounded in number and age; a restart forgets them (Redis keeps them). */
export class MemoryRunStore implements RunStore {
  // Insertion order is age order (a save re-inserts), so the oldest go first.
  private readonly runs = new Map<string, { run: Run; expires: number }>();

  async get(runId: string): Promise<Run | undefined> {
    const entry = this.runs.get(runId);
    if (!entry || entry.expires <= Date.now()) return undefined;
    return entry.run;
  }

  async create(run: Run): Promise<boolean> {
    if (await this.get(run.runId)) return false;
    this.put(run);
    return true;
  }

  async save(run: Run): Promise<void> {
    this.put(run);
  }

  private put(run: Run): void {
    this.runs.delete(run.runId);
    this.runs.set(run.runId, { run, expires: Date.now() + RUN_TTL_SECONDS * 1000 });
    for (const [id, entry] of this.runs) {
      if (this.runs.size <= MAX_RUNS && entry.expires > Date.now()) break;
      this.runs.delete(id);
    }
  }
}
