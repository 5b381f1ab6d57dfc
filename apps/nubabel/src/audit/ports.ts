import type { AuditEntry, AuditPage, AuditQuery } from "@nubabel/contracts";

/** One entry to record; the id and time are the log's. */
export type AuditRecord = Omit<AuditEntry, "id" | "at"> & { organizationId: string };

/**
 * The audit trail. `record` never throws into the caller's path: a tool call must not fail
 * because its audit line could not be written (the failure is logged instead).
 */
export interface AuditLog {
  record(entry: AuditRecord): Promise<void>;
  /** The organization's entries matching `query`, oldest first, one page. */
  list(organizationId: string, query: AuditQuery): Promise<AuditPage>;
  /** Deletes entries older than `before`; returns how many. */
  prune(before: Date): Promise<number>;
}
