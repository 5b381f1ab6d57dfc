import { and, asc, desc, eq, inArray, isNull, lt, lte, notExists, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Usage } from "@nubabel/contracts";
import type { Db } from "../../db/database.js";
import { messages, runs, sessions } from "../../db/schema.js";
import type { HistoryEntry, Limits, NewRun, RunStore } from "../../runs/ports.js";
import { sourcesOf, type Ending, type Origin, type Run } from "../../runs/run.js";

type Row = typeof runs.$inferSelect;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

const UNFINISHED = ["queued", "running"] as const;

function toRun(row: Row): Run {
  return {
    id: row.id,
    organizationId: row.organizationId,
    sessionId: row.sessionId,
    status: row.status,
    reason: row.reason,
    prompt: row.prompt,
    userId: row.userId,
    category: row.category,
    skills: row.skills,
    origin: row.origin as Origin,
    opencodeSessionId: row.opencodeSessionId,
    sidecarUrl: row.sidecarUrl,
    output: row.output,
    error: row.error,
    usage: row.usage as Usage | null,
    model: row.model,
    abortRequested: row.abortRequested,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

/** Serializes admission and starting per organization, across every instance (released at commit). */
async function lockOrganization(tx: Tx, organizationId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`runs:${organizationId}`}))`);
}

async function setSessionStatus(tx: Tx, run: Pick<Run, "organizationId" | "sessionId">, status: string, opencodeSessionId?: string | null): Promise<void> {
  const state = opencodeSessionId
    ? sql`jsonb_build_object('opencodeSessionId', ${opencodeSessionId}::text, 'status', ${status}::text)`
    : sql`jsonb_set(${sessions.state}, '{status}', to_jsonb(${status}::text))`;
  await tx
    .update(sessions)
    .set({ state: state as unknown as { opencodeSessionId: string | null; status: string }, updatedAt: new Date() })
    .where(and(eq(sessions.organizationId, run.organizationId), eq(sessions.id, run.sessionId)));
}

/** `RunStore` on PostgreSQL or PGlite (the same SQL: PGlite is PostgreSQL, one connection). */
export class PgRunStore implements RunStore {
  constructor(private readonly db: Db) {}

  admit(run: NewRun, limits: Limits): Promise<{ run: Run } | { refused: { running: number; queued: number } }> {
    return this.db.transaction(async (tx) => {
      await lockOrganization(tx, run.organizationId);
      const [counts] = await tx
        .select({
          running: sql<number>`count(*) filter (where ${runs.status} = 'running')::int`,
          queued: sql<number>`count(*) filter (where ${runs.status} = 'queued')::int`,
        })
        .from(runs)
        .where(and(eq(runs.organizationId, run.organizationId), inArray(runs.status, [...UNFINISHED])));
      const running = Number(counts?.running ?? 0);
      const queued = Number(counts?.queued ?? 0);
      if (running + queued >= limits.maxRunning + limits.maxQueued) return { refused: { running, queued } };
      // Nothing waits and a slot is free: the run starts at once, unless its session has one running
      // (turns of a session go in order). This is what `claim` would decide, without a second lock.
      let starts = running < limits.maxRunning && queued === 0;
      if (starts) {
        const [ahead] = await tx
          .select({ id: runs.id })
          .from(runs)
          .where(and(eq(runs.organizationId, run.organizationId), eq(runs.sessionId, run.sessionId), eq(runs.status, "running")))
          .limit(1);
        starts = !ahead;
      }
      const now = new Date();
      const [row] = await tx
        .insert(runs)
        .values({
          id: run.id,
          organizationId: run.organizationId,
          sessionId: run.sessionId,
          status: starts ? "running" : "queued",
          ...(starts ? { startedAt: now, checkedAt: now } : {}),
          prompt: run.prompt,
          userId: run.userId ?? null,
          category: run.category ?? null,
          skills: run.skills ?? null,
          origin: run.origin,
        })
        .returning();
      return { run: toRun(row!) };
    });
  }

  async claim(organizationId: string, limits: Limits): Promise<Run[]> {
    // Most calls (a run just ended) find nothing waiting: say so without a transaction and a lock.
    // A run queued right after this read is started by its own submit.
    const [waiting] = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.organizationId, organizationId), eq(runs.status, "queued")))
      .limit(1);
    if (!waiting) return [];
    return this.db.transaction(async (tx) => {
      await lockOrganization(tx, organizationId);
      const [busy] = await tx
        .select({ n: sql<number>`count(*)::int` })
        .from(runs)
        .where(and(eq(runs.organizationId, organizationId), eq(runs.status, "running")));
      const free = limits.maxRunning - Number(busy?.n ?? 0);
      if (free <= 0) return [];
      const earlier = alias(runs, "earlier");
      const next = await tx
        .select({ id: runs.id })
        .from(runs)
        .where(
          and(
            eq(runs.organizationId, organizationId),
            eq(runs.status, "queued"),
            // Turns of one session run in order: only its oldest unfinished run may start.
            notExists(
              tx
                .select({ one: sql`1` })
                .from(earlier)
                .where(
                  and(
                    eq(earlier.organizationId, runs.organizationId),
                    eq(earlier.sessionId, runs.sessionId),
                    or(eq(earlier.status, "running"), and(eq(earlier.status, "queued"), lt(earlier.seq, runs.seq))),
                  ),
                ),
            ),
          ),
        )
        .orderBy(asc(runs.seq))
        .limit(free);
      if (!next.length) return [];
      const rows = await tx
        .update(runs)
        .set({ status: "running", startedAt: new Date(), checkedAt: new Date() })
        .where(and(inArray(runs.id, next.map((r) => r.id)), eq(runs.status, "queued")))
        .returning();
      return rows.map(toRun).sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    });
  }

  async get(organizationId: string, runId: string): Promise<Run | undefined> {
    const [row] = await this.db.select().from(runs).where(and(eq(runs.organizationId, organizationId), eq(runs.id, runId))).limit(1);
    return row ? toRun(row) : undefined;
  }

  async byId(runId: string): Promise<Run | undefined> {
    const [row] = await this.db.select().from(runs).where(eq(runs.id, runId)).limit(1);
    return row ? toRun(row) : undefined;
  }

  async listBySession(organizationId: string, sessionId: string, limit: number): Promise<Run[]> {
    const rows = await this.db
      .select()
      .from(runs)
      .where(and(eq(runs.organizationId, organizationId), eq(runs.sessionId, sessionId)))
      .orderBy(desc(runs.seq))
      .limit(limit);
    return rows.reverse().map(toRun);
  }

  async unfinished(organizationId: string, sessionId: string): Promise<Run[]> {
    const rows = await this.db
      .select()
      .from(runs)
      .where(and(eq(runs.organizationId, organizationId), eq(runs.sessionId, sessionId), inArray(runs.status, [...UNFINISHED])))
      .orderBy(asc(runs.seq));
    return rows.map(toRun);
  }

  async queuePosition(run: Run): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(runs)
      .where(
        and(
          eq(runs.organizationId, run.organizationId),
          eq(runs.status, "queued"),
          lte(runs.seq, sql`(select ${runs.seq} from ${runs} where ${runs.id} = ${run.id})`),
        ),
      );
    return Math.max(1, Number(row?.n ?? 1));
  }

  async placed(runId: string, placement: { opencodeSessionId: string; sidecarUrl: string }): Promise<Run | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(runs)
        .set({ opencodeSessionId: placement.opencodeSessionId, sidecarUrl: placement.sidecarUrl, checkedAt: new Date() })
        .where(and(eq(runs.id, runId), eq(runs.status, "running")))
        .returning();
      if (row) await setSessionStatus(tx, row, "running", placement.opencodeSessionId);
      return row ? toRun(row) : undefined;
    });
  }

  async requestAbort(runId: string): Promise<Run | undefined> {
    const [row] = await this.db
      .update(runs)
      .set({ abortRequested: true })
      .where(and(eq(runs.id, runId), inArray(runs.status, [...UNFINISHED])))
      .returning();
    return row ? toRun(row) : undefined;
  }

  finish(runId: string, ending: Ending, history: HistoryEntry[]): Promise<Run | undefined> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(runs)
        .set({
          status: ending.status,
          reason: ending.reason ?? null,
          output: ending.output ?? null,
          error: ending.error ?? null,
          usage: ending.usage ?? null,
          model: ending.model ?? null,
          ...(ending.opencodeSessionId ? { opencodeSessionId: ending.opencodeSessionId } : {}),
          finishedAt: new Date(),
        })
        .where(and(eq(runs.id, runId), inArray(runs.status, sourcesOf(ending.status))))
        .returning();
      if (!row) return undefined;
      // One statement, rows in order: the serial seq keeps the prompt before the answer.
      if (history.length) await tx.insert(messages).values(history.map((entry) => ({ ...entry, organizationId: row.organizationId, sessionId: row.sessionId })));
      // The session's state is its agent's: a run that never reached it leaves it as it was.
      if (history.length) await setSessionStatus(tx, row, ending.status, row.opencodeSessionId);
      return toRun(row);
    });
  }

  async requeue(runId: string): Promise<boolean> {
    const rows = await this.db
      .update(runs)
      .set({ status: "queued", startedAt: null, checkedAt: null })
      .where(and(eq(runs.id, runId), eq(runs.status, "running"), isNull(runs.sidecarUrl)))
      .returning({ id: runs.id });
    return rows.length > 0;
  }

  async touch(runId: string): Promise<void> {
    await this.db.update(runs).set({ checkedAt: new Date() }).where(eq(runs.id, runId));
  }

  async stale(before: Date, limit: number): Promise<Array<Run & { checkedAt: Date | null }>> {
    const rows = await this.db
      .select()
      .from(runs)
      .where(and(eq(runs.status, "running"), or(isNull(runs.checkedAt), lt(runs.checkedAt, before))))
      .orderBy(asc(runs.checkedAt))
      .limit(limit);
    return rows.map((row) => ({ ...toRun(row), checkedAt: row.checkedAt }));
  }

  async organizationsWithQueued(limit: number): Promise<string[]> {
    const rows = await this.db.selectDistinct({ organizationId: runs.organizationId }).from(runs).where(eq(runs.status, "queued")).limit(limit);
    return rows.map((r) => r.organizationId);
  }

  async claimDelivery(runId: string): Promise<boolean> {
    const rows = await this.db
      .update(runs)
      .set({ deliveredAt: new Date() })
      .where(and(eq(runs.id, runId), isNull(runs.deliveredAt)))
      .returning({ id: runs.id });
    return rows.length > 0;
  }

  async undelivered(before: Date, limit: number): Promise<Run[]> {
    const rows = await this.db
      .select()
      .from(runs)
      .where(
        and(
          isNull(runs.deliveredAt),
          inArray(runs.status, ["completed", "failed", "aborted"]),
          lt(runs.finishedAt, before),
          sql`${runs.origin}->>'kind' = 'slack'`,
        ),
      )
      .orderBy(asc(runs.finishedAt))
      .limit(limit);
    return rows.map(toRun);
  }

  async updateOrigin(runId: string, patch: Partial<Extract<Origin, { kind: "slack" }>>): Promise<void> {
    await this.db
      .update(runs)
      .set({ origin: sql`${runs.origin} || ${JSON.stringify(patch)}::jsonb` as unknown as Origin })
      .where(eq(runs.id, runId));
  }
}
