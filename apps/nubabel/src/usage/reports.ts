import type { UsageGroupBy, UsageReport, UsageTotals } from "@nubabel/contracts";
import { monthOf } from "./period.js";
import type { UsageRow, UsageStore } from "./ports.js";

const ZERO: UsageTotals = { runs: 0, inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cost: 0 };

/** What a report covers: `from` and `to` default to the current month so far. */
export interface ReportWindow {
  from?: Date;
  to?: Date;
  groupBy?: UsageGroupBy;
}

/** The organization's usage in the window, grouped, with its total (the sum of the rows). */
export async function report(store: UsageStore, organizationId: string, window: ReportWindow, now = new Date()): Promise<UsageReport> {
  const from = window.from ?? monthOf(now).start;
  const to = window.to ?? now;
  const groupBy = window.groupBy ?? "day";
  const rows = await store.sum(organizationId, from, to, groupBy);
  return { from: from.toISOString(), to: to.toISOString(), groupBy, rows, total: rows.reduce(add, { ...ZERO }) };
}

function add(total: UsageTotals, row: UsageRow): UsageTotals {
  return {
    runs: total.runs + row.runs,
    inputTokens: total.inputTokens + row.inputTokens,
    outputTokens: total.outputTokens + row.outputTokens,
    reasoningTokens: total.reasoningTokens + row.reasoningTokens,
    cacheReadTokens: total.cacheReadTokens + row.cacheReadTokens,
    cacheWriteTokens: total.cacheWriteTokens + row.cacheWriteTokens,
    cost: total.cost + row.cost,
  };
}
