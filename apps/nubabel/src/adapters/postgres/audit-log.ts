import { and, asc, eq, gt, gte, lt, sql, type SQL } from "drizzle-orm";
import { Ids, type AuditEntry, type AuditKind, type AuditPage, type AuditQuery } from "@nubabel/contracts";
import { AuditCursor, type AuditLog, type AuditRecord } from "../../audit/index.js";
import { rowsOf, type Db } from "../../db/database.js";
import { auditEvents } from "../../db/schema.js";
import type { Logger } from "../../log/logger.js";

type Row = typeof auditEvents.$inferSelect;

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 500;
/** A detail is a reason, not a payload: anything longer is cut. */
const MAX_DETAIL = 500;
/** Rows deleted per statement while pruning, so a large backlog never holds one long lock. */
const PRUNE_BATCH = 10_000;

const toEntry = (row: Row): AuditEntry => {
  const entry: AuditEntry = { id: row.id, at: row.at.toISOString(), kind: row.kind as AuditKind, actor: row.actor, action: row.action };
  if (row.sessionId !== null) entry.sessionId = row.sessionId;
  if (row.runId !== null) entry.runId = row.runId;
  if (row.tool !== null) entry.tool = row.tool;
  if (row.provider !== null) entry.provider = row.provider;
  if (row.connectionId !== null) entry.connectionId = row.connectionId;
  if (row.decision !== null) entry.decision = row.decision;
  if (row.status !== null) entry.status = row.status;
  if (row.durationMs !== null) entry.durationMs = row.durationMs;
  if (row.detail !== null) entry.detail = row.detail;
  return entry;
};

/** The audit trail on PostgreSQL or PGlite (`audit_events`); pages follow `seq`, every read is one organization's. */
export class PgAuditLog implements AuditLog {
  constructor(
    private readonly db: Db,
    private readonly log?: Logger,
  ) {}

  async record(entry: AuditRecord): Promise<void> {
    const id = Ids.create(Ids.Prefix.audit);
    try {
      await this.db.insert(auditEvents).values({
        id,
        organizationId: entry.organizationId,
        kind: entry.kind,
        actor: entry.actor,
        action: entry.action,
        sessionId: entry.sessionId ?? null,
        runId: entry.runId ?? null,
        tool: entry.tool ?? null,
        provider: entry.provider ?? null,
        connectionId: entry.connectionId ?? null,
        decision: entry.decision ?? null,
        status: entry.status ?? null,
        durationMs: entry.durationMs === undefined ? null : Math.max(0, Math.round(entry.durationMs)),
        detail: entry.detail === undefined ? null : entry.detail.slice(0, MAX_DETAIL),
      });
    } catch (err) {
      // What was being audited has happened (or failed) already; it must not fail for its record.
      this.log?.warn(
        { err: (err as Error).message, organizationId: entry.organizationId, kind: entry.kind, action: entry.action, tool: entry.tool, connectionId: entry.connectionId },
        "could not record an audit entry",
      );
    }
  }

  async list(organizationId: string, query: AuditQuery): Promise<AuditPage> {
    const limit = Math.min(query.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
    const where: SQL[] = [eq(auditEvents.organizationId, organizationId)];
    if (query.cursor !== undefined) where.push(gt(auditEvents.seq, AuditCursor.decode(query.cursor)));
    if (query.sessionId !== undefined) where.push(eq(auditEvents.sessionId, query.sessionId));
    if (query.runId !== undefined) where.push(eq(auditEvents.runId, query.runId));
    if (query.from !== undefined) where.push(gte(auditEvents.at, new Date(query.from)));
    if (query.to !== undefined) where.push(lt(auditEvents.at, new Date(query.to)));
    // One row past the page says whether another follows.
    const rows = await this.db
      .select()
      .from(auditEvents)
      .where(and(...where))
      .orderBy(asc(auditEvents.seq))
      .limit(limit + 1);
    const page = rows.slice(0, limit);
    return {
      entries: page.map(toEntry),
      ...(rows.length > limit ? { nextCursor: AuditCursor.encode(page.at(-1)!.seq) } : {}),
    };
  }

  async prune(before: Date): Promise<number> {
    let total = 0;
    for (;;) {
      const [row] = await rowsOf<{ n: number }>(
        this.db,
        sql`with gone as (
              delete from ${auditEvents} where ${auditEvents.seq} in (
                select ${auditEvents.seq} from ${auditEvents} where ${auditEvents.at} < ${before.toISOString()}::timestamptz limit ${PRUNE_BATCH}
              ) returning 1
            ) select count(*)::int as n from gone`,
      );
      const n = Number(row?.n ?? 0);
      total += n;
      if (n < PRUNE_BATCH) return total;
    }
  }
}
