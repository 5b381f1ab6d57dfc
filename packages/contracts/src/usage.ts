import { z } from "zod";
import { Usage } from "./sidecar.js";
import { finiteNumber } from "./text.js";

/** A run count and the sums of its `Usage` (tokens count input + output for budgets). */
export const UsageTotals = Usage.extend({ runs: z.number().int().nonnegative() });
export type UsageTotals = z.infer<typeof UsageTotals>;

export const UsageGroupBy = z.enum(["day", "user", "model", "session"]);
export type UsageGroupBy = z.infer<typeof UsageGroupBy>;

/** `GET /api/usage` query: `from` (inclusive) and `to` (exclusive) default to the current month so far. */
export const UsageQuery = z.strictObject({
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  groupBy: UsageGroupBy.optional(),
});
export type UsageQuery = z.infer<typeof UsageQuery>;

/**
 * `GET /api/usage`: the organization's runs in `[from, to)` summed per `key` (a UTC day `2026-11-30`,
 * a user id, a `provider/model`, a session id; `(none)` where a run has none), plus the total.
 */
export const UsageReport = z.object({
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  groupBy: UsageGroupBy,
  rows: z.array(UsageTotals.extend({ key: z.string() })),
  total: UsageTotals,
});
export type UsageReport = z.infer<typeof UsageReport>;

/** `PUT /api/budget` body: a monthly cap on cost (in the engine's currency, USD) and/or tokens. */
export const BudgetSettings = z.strictObject({
  monthlyCost: finiteNumber().positive().max(1e9).optional(),
  monthlyTokens: finiteNumber().int().positive().max(1e15).optional(),
  /** When to warn, as a percentage of either cap (default 80). */
  warnAtPercent: finiteNumber().int().min(1).max(100).optional(),
});
export type BudgetSettings = z.infer<typeof BudgetSettings>;

/** `GET /api/budget` and the answer of `PUT`: the caps in force, where they come from, and this month's spend. */
export const ApiBudget = z.object({
  monthlyCost: z.number().optional(),
  monthlyTokens: z.number().int().optional(),
  warnAtPercent: z.number().int(),
  /** `organization` (set by `PUT`), `default` (the operator's), or `none` (no cap). */
  source: z.enum(["organization", "default", "none"]),
  spent: z.object({ cost: z.number().nonnegative(), tokens: z.number().int().nonnegative() }),
  /** The start of the current month (UTC) and when the spend resets. */
  periodStart: z.iso.datetime(),
  resetsAt: z.iso.datetime(),
  /** `ok`, `warning` (past `warnAtPercent`) or `exceeded` (new runs are refused with 402). */
  state: z.enum(["ok", "warning", "exceeded"]),
});
export type ApiBudget = z.infer<typeof ApiBudget>;
