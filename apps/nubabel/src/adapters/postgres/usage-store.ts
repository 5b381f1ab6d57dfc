import { sql, type SQL } from "drizzle-orm";
import type { UsageGroupBy } from "@nubabel/contracts";
import { rowsOf, type Db } from "../../db/database.js";
import { runs } from "../../db/schema.js";
import type { UsageRow, UsageStore } from "../../usage/index.js";

/** The group of a run, per `groupBy`; parameter-free, so `group by 1` matches the selected key. */
const KEY: Record<UsageGroupBy, SQL> = {
  day: sql`to_char(${runs.finishedAt} at time zone 'UTC', 'YYYY-MM-DD')`,
  user: sql`coalesce(${runs.userId}, '(none)')`,
  model: sql`coalesce(${runs.model}, '(none)')`,
  session: sql`${runs.sessionId}`,
};

/**
 * Sums of a `usage` field over the selected runs. Cast to float8: both drivers return it as a
 * number (a bigint or numeric sum comes back as a string, or a BigInt on PGlite).
 */
const tokens = (field: string) => sql.raw(`coalesce(sum((usage->>'${field}')::bigint), 0)::float8`);

type Raw = Record<"key" | "runs" | "input" | "output" | "reasoning" | "cache_read" | "cache_write" | "cost", string | number>;

/** `UsageStore` over the `runs` table (`runs_org_finished_idx` finds an organization's window). */
export class PgUsageStore implements UsageStore {
  constructor(private readonly db: Db) {}

  async sum(organizationId: string, from: Date, to: Date, groupBy: UsageGroupBy): Promise<UsageRow[]> {
    const rows = await rowsOf<Raw>(
      this.db,
      sql`select ${KEY[groupBy]} as key, count(*)::int as runs,
            ${tokens("inputTokens")} as input, ${tokens("outputTokens")} as output, ${tokens("reasoningTokens")} as reasoning,
            ${tokens("cacheReadTokens")} as cache_read, ${tokens("cacheWriteTokens")} as cache_write,
            coalesce(sum((usage->>'cost')::float8), 0) as cost
          from ${runs}
          where organization_id = ${organizationId} and finished_at >= ${from.toISOString()}::timestamptz and finished_at < ${to.toISOString()}::timestamptz
          group by 1 order by 1`,
    );
    return rows.map((r) => ({
      key: String(r.key),
      runs: Number(r.runs),
      inputTokens: Number(r.input),
      outputTokens: Number(r.output),
      reasoningTokens: Number(r.reasoning),
      cacheReadTokens: Number(r.cache_read),
      cacheWriteTokens: Number(r.cache_write),
      cost: Number(r.cost),
    }));
  }

  async spent(organizationId: string, since: Date): Promise<{ cost: number; tokens: number }> {
    const [row] = await rowsOf<{ cost: string | number; tokens: string | number }>(
      this.db,
      sql`select coalesce(sum((usage->>'cost')::float8), 0) as cost,
            coalesce(sum(coalesce((usage->>'inputTokens')::bigint, 0) + coalesce((usage->>'outputTokens')::bigint, 0)), 0)::float8 as tokens
          from ${runs}
          where organization_id = ${organizationId} and finished_at >= ${since.toISOString()}::timestamptz and usage is not null`,
    );
    return { cost: Number(row?.cost ?? 0), tokens: Number(row?.tokens ?? 0) };
  }
}
