import type { Logger } from "pino";
import { Periodic } from "@nubabel/contracts";
import type { AuditLog } from "./ports.js";

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  audit: Pick<AuditLog, "prune">;
  /** `AUDIT_RETENTION_DAYS`: entries older than this many days go; 0 keeps them forever. */
  days: number;
  /** How often to prune; hourly by default. */
  intervalMs?: number;
  log?: Logger;
  now?: () => number;
}

/** The running pruner. */
export interface Retention {
  /** Prunes now (also what the timer does); resolves with how many entries went. */
  prune(): Promise<number>;
  stop(): void;
}

/**
 * Prunes the audit trail past its retention, shortly after start and then every `intervalMs`. The
 * timer is unref'd, so it never keeps a process alive; every instance may run one (a delete of
 * what is already gone deletes nothing). A failed prune is logged and retried on the next tick.
 */
export function startRetention(options: RetentionOptions): Retention {
  const now = options.now ?? Date.now;
  const prune = async () => (options.days > 0 ? options.audit.prune(new Date(now() - options.days * DAY_MS)) : 0);
  if (options.days <= 0) return { prune, stop: () => undefined };
  const pruning = Periodic.every(
    {
      everyMs: options.intervalMs ?? 3_600_000,
      firstAfterMs: 5_000,
      onError: (err) => options.log?.warn({ err: err.message }, "could not prune the audit trail; retrying later"),
    },
    async () => {
      const n = await prune();
      if (n > 0) options.log?.info({ pruned: n, retentionDays: options.days }, "audit entries pruned");
    },
  );
  return { prune, stop: () => void pruning.stop(0) };
}
