import type { Logger } from "../logger.js";

export interface InstancesOptions {
  /** Most live instances; past it the least recently used idle ones are disposed first. */
  max: number;
  /** An instance unused this long is disposed. */
  idleMs: number;
  dispose(directory: string): Promise<void>;
  log: Logger;
}

interface Live {
  lastUsed: number;
  /** Runs in progress in the folder: such an instance is never disposed. */
  runs: number;
}

/**
 * The engine keeps one instance per workspace folder once anything touches it (about 30 MB each)
 * and never lets go of one by itself. This keeps at most `max` live, least recently used first out,
 * and disposes those idle for `idleMs`. Sessions live on in the engine's storage: a later run in
 * the folder loads a fresh instance, with the conversation's context intact.
 */
export class EngineInstances {
  /** Live folders, least recently used first (a use moves one to the end). */
  private readonly live = new Map<string, Live>();
  private readonly disposing = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly o: InstancesOptions) {}

  /** How many instances are live. */
  get count(): number {
    return this.live.size;
  }

  /** Starts disposing idle instances. */
  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), Math.max(1_000, Math.min(this.o.idleMs / 2, 30_000)));
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The engine restarted: it has no instances. */
  reset(): void {
    for (const [directory, entry] of this.live) if (entry.runs === 0) this.live.delete(directory);
  }

  /** Holds `directory`'s instance for a run, making room first; call the returned function when it ends. */
  async acquire(directory: string): Promise<() => void> {
    await this.use(directory);
    const entry = this.live.get(directory)!;
    entry.runs += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry.runs -= 1;
      entry.lastUsed = Date.now();
    };
  }

  /** Notes that a call loads `directory`'s instance (a session read, an abort), making room first. */
  async use(directory: string): Promise<void> {
    await this.disposing.get(directory);
    const entry = this.live.get(directory) ?? { lastUsed: 0, runs: 0 };
    this.live.delete(directory);
    entry.lastUsed = Date.now();
    this.live.set(directory, entry);
    // Least recently used first; a folder with a run in progress is skipped.
    for (const [other, { runs }] of this.live) {
      if (this.live.size <= this.o.max) break;
      if (other !== directory && runs === 0) await this.dispose(other, "over ENGINE_MAX_INSTANCES");
    }
  }

  private async sweep(): Promise<void> {
    const before = Date.now() - this.o.idleMs;
    for (const [directory, { lastUsed, runs }] of this.live) {
      if (runs === 0 && lastUsed < before) await this.dispose(directory, "idle for ENGINE_INSTANCE_IDLE_MS");
    }
  }

  private async dispose(directory: string, why: string): Promise<void> {
    this.live.delete(directory);
    const disposing = this.o
      .dispose(directory)
      .then(() => this.o.log.debug({ directory, why }, "engine instance disposed"))
      // Disposed or not, it is reloaded when next used: the engine answers for it either way.
      .catch((err: Error) => this.o.log.warn({ directory, err: err.message }, "engine instance not disposed"))
      .finally(() => this.disposing.delete(directory));
    this.disposing.set(directory, disposing);
    await disposing;
  }
}
