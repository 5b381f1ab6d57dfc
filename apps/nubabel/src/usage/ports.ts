import type { UsageGroupBy, UsageTotals } from "@nubabel/contracts";

/** One group of a usage report: the sums, under the group's key. */
export type UsageRow = UsageTotals & { key: string };

/**
 * Sums of what the organization's runs used, as the engine reported it. A run counts when it
 * finished (its usage is known only then), so a run is in the window its `finishedAt` falls in.
 */
export interface UsageStore {
  /**
   * The organization's runs finished in `[from, to)`, summed per key of `groupBy` (a UTC day
   * `YYYY-MM-DD`, a user id, a `provider/model`, a session id; `(none)` where a run has none),
   * ordered by key. Runs without usage (refused before reaching the engine) count as runs with zeros.
   */
  sum(organizationId: string, from: Date, to: Date, groupBy: UsageGroupBy): Promise<UsageRow[]>;
  /** Cost and tokens (input + output) of the organization's runs finished since `since`. */
  spent(organizationId: string, since: Date): Promise<{ cost: number; tokens: number }>;
}
