import type { SlackLinks, SlackThreads, ThreadKey, ThreadRecord } from "./ports.js";

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

function key(t: ThreadKey): string {
  return `${t.teamId}\u0000${t.channelId}\u0000${t.threadTs}`;
}
