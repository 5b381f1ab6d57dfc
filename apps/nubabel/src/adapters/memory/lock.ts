import { randomUUID } from "node:crypto";
import type { Lock } from "../../delegation/lock.js";

/** In-process `Lock` (single instance). */
export class MemoryLock implements Lock {
  private readonly held = new Map<string, { token: string; expires: number }>();

  async acquire(key: string, ttlMs: number): Promise<string | undefined> {
    const now = Date.now();
    const current = this.held.get(key);
    if (current && current.expires > now) return undefined;
    const token = randomUUID();
    this.held.set(key, { token, expires: now + ttlMs });
    return token;
  }

  async release(key: string, token: string): Promise<void> {
    if (this.held.get(key)?.token === token) this.held.delete(key);
  }
}
