import { Periodic } from "@nubabel/contracts";
import type { Logger } from "../logger.js";

export interface InstancesOptions {
  /** Most live instances; past it the least recently used idle ones are disposed first. */
  max: number;
  /** An instance unused this long is disposed. */
  idleMs: number;
  dispose(directory: string): Promise<void>;
  /** Told of each folder unloaded (what was checked of its instance no longer holds). */
  onDispose?(directory: string): void;
  /**
   * The engine process itself: restarted (`recycle`) when no run is in progress and its memory
   * (`rssBytes`) is over `maxRssBytes`. Absent for an engine the sidecar does not run.
   */
  process?: { maxRssBytes: number; rssBytes(): number | undefined; recycle(): Promise<void> };
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
  private sweeps: Periodic.Periodic | undefined;
  /** Set while the engine is recycled: every use waits for it. */
  private paused: Promise<void> | undefined;

  constructor(private readonly o: InstancesOptions) {}

  /** Settles when the engine restart in progress (a recycle) is over; undefined when none is. */
  get recycling(): Promise<void> | undefined {
    return this.paused;
  }

  /** How many instances are live. */
  get count(): number {
    return this.live.size;
  }

  /** Starts disposing idle instances. */
  start(): void {
    this.sweeps ??= Periodic.every(
      { everyMs: Math.max(1_000, Math.min(this.o.idleMs / 2, 30_000)), onError: (err) => this.o.log.warn({ err: err.message }, "engine instance sweep failed") },
      () => this.sweep(),
    );
  }

  stop(): void {
    void this.sweeps?.stop(0);
    this.sweeps = undefined;
  }

  /** The engine restarted: it has no instances. */
  reset(): void {
    for (const [directory, entry] of this.live) if (entry.runs === 0) this.live.delete(directory);
  }

  /** Holds `directory`'s instance for a run, making room first; call the returned function when it ends. */
  async acquire(directory: string): Promise<() => void> {
    const entry = await this.take(directory, 1);
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
    await this.take(directory, 0);
  }

  /**
   * Waits out a recycle and a disposal of `directory`, then marks it used (and held by `runs`)
   * before anything else can run, so a concurrent use can neither dispose it nor start a recycle.
   */
  private async take(directory: string, runs: number): Promise<Live> {
    while (this.paused || this.disposing.has(directory)) await (this.paused ?? this.disposing.get(directory));
    const entry = this.live.get(directory) ?? { lastUsed: 0, runs: 0 };
    this.live.delete(directory);
    entry.lastUsed = Date.now();
    entry.runs += runs;
    this.live.set(directory, entry);
    // Least recently used first; a folder with a run in progress is skipped.
    for (const [other, { runs: busy }] of this.live) {
      if (this.live.size <= this.o.max) break;
      if (other !== directory && busy === 0) await this.dispose(other, "over ENGINE_MAX_INSTANCES");
    }
    return entry;
  }

  private async sweep(): Promise<void> {
    const before = Date.now() - this.o.idleMs;
    for (const [directory, { lastUsed, runs }] of this.live) {
      if (runs === 0 && lastUsed < before) await this.dispose(directory, "idle for ENGINE_INSTANCE_IDLE_MS");
    }
    await this.recycleIfLarge();
  }

  /** Restarts an idle engine over its memory bound; runs that arrive meanwhile wait for it. */
  private async recycleIfLarge(): Promise<void> {
    const engine = this.o.process;
    if (!engine || this.paused || [...this.live.values()].some((entry) => entry.runs > 0)) return;
    const rss = engine.rssBytes();
    if (rss === undefined || rss <= engine.maxRssBytes) return;
    // Set before any await: from here on a new run waits rather than meeting a stopped engine.
    this.paused = (async () => {
      this.o.log.info({ rssMb: Math.round(rss / 1048576), maxMb: Math.round(engine.maxRssBytes / 1048576) }, "engine idle and over ENGINE_MAX_RSS_MB; restarting it");
      await engine.recycle().catch((err: Error) => this.o.log.error({ err: err.message }, "engine recycle failed"));
      for (const [directory, entry] of this.live) if (entry.runs === 0) this.live.delete(directory);
    })().finally(() => (this.paused = undefined));
    await this.paused;
  }

  private async dispose(directory: string, why: string): Promise<void> {
    this.live.delete(directory);
    this.o.onDispose?.(directory);
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
