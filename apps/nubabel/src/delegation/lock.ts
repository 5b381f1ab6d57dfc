/**
 * A lease on a name across every instance sharing the backend (Redis `SET NX PX`). It expires by
 * itself after `ttlMs`, so a crashed holder cannot block a session forever.
 */
export interface Lock {
  /** Takes `key` unless someone holds it; returns the token that releases it, or undefined. */
  acquire(key: string, ttlMs: number): Promise<string | undefined>;
  /** Releases `key` only if `token` still holds it (an expired lease may belong to another now). */
  release(key: string, token: string): Promise<void>;
}
