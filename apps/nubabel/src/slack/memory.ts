import type { EventDedupe, SlackLinks, SlackThreads, ThreadKey, ThreadRecord } from "./ports.js";

/** In-process `SlackLinks`, for tests and a single embedded instance. */
export class MemorySlackLinks implements SlackLinks {
  private readonly links = new Map<string, string>();

  link(teamId: string, organizationId: string): void {
    this.links.set(teamId, organizationId);
  }

  unlink(teamId: string): void {
    this.links.delete(teamId);
  }

  async organizationFor(teamId: string): Promise<string | undefined> {
    return this.links.get(teamId);
  }
}

/** In-process `SlackThreads`: forgets every thread on restart, so production uses Postgres. */
export class MemorySlackThreads implements SlackThreads {
  private readonly threads = new Map<string, ThreadRecord>();

  async find(thread: ThreadKey): Promise<ThreadRecord | undefined> {
    return this.threads.get(key(thread));
  }

  async claim(thread: ThreadKey, record: ThreadRecord): Promise<ThreadRecord> {
    const existing = this.threads.get(key(thread));
    if (existing) return existing;
    this.threads.set(key(thread), record);
    return record;
  }
}

/** In-process `EventDedupe` with lazy expiry (single instance only; Redis shares it across instances). */
export class MemoryEventDedupe implements EventDedupe {
  private readonly seen = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async claim(id: string, ttlSeconds: number): Promise<boolean> {
    const t = this.now();
    // Sweep now and then so a long-lived process does not keep every event id forever.
    if (this.seen.size > 10_000) for (const [k, until] of this.seen) if (until <= t) this.seen.delete(k);
    const until = this.seen.get(id);
    if (until !== undefined && until > t) return false;
    this.seen.set(id, t + ttlSeconds * 1000);
    return true;
  }
}

function key(t: ThreadKey): string {
  return `${t.teamId}\u0000${t.channelId}\u0000${t.threadTs}`;
}
