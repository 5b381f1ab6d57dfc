import { and, asc, desc, eq, getTableColumns, inArray, isNull, lt, lte, notExists, notInArray, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Usage } from "@nubabel/contracts";
import { rowsOf, type Db, type Tx } from "../../db/database.js";
import { messages, runs, sessions } from "../../db/schema.js";
import type { Admitted, HistoryEntry, Limits, NewRun, Placed, RunStore } from "../../runs/ports.js";
import { sourcesOf, type Ending, type Origin, type Run } from "../../runs/run.js";

type Row = typeof runs.$inferSelect;

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
    contextRestored: row.contextRestored,
    abortRequested: row.abortRequested,
    traceparent: row.traceparent,
    createdAt: row.createdAt,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}

const COLUMNS = Object.entries(getTableColumns(runs));

/** A row of `runs` from a raw statement (`returning *`), mapped as drizzle maps its own queries. */
function fromDriver(raw: Record<string, unknown>): Row {
  return Object.fromEntries(COLUMNS.map(([key, column]) => [key, raw[column.name] == null ? null : column.mapFromDriverValue(raw[column.name])])) as Row;
}

/** Serializes admission and starting per organization, across every instance (released at commit). */
async function lockOrganization(tx: Tx, organizationId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`runs:${organizationId}`}))`);
}

/** `RunStore` on PostgreSQL or PGlite (the same SQL: PGlite is PostgreSQL, one connection). */
export class PgRunStore implements RunStore {
  constructor(private readonly db: Db) {}

  async admit(run: NewRun, limits: Limits): Promise<Admitted | { refused: { running: number; queued: number } }> {
    // One round trip: drizzle/0014_admit_run_mapping.sql (first 0004) opens the session, locks the
    // organization, checks its limits, inserts the run and reads the session's mapping.
    const now = new Date();
    const [row] = await rowsOf<{ status: Run["status"] | null; new_session: boolean; opencode_session_id: string | null; sidecar_url: string | null }>(
      this.db,
      sql`select * from nubabel_admit_run_mapped(${run.id}, ${run.organizationId}, ${run.sessionId}, ${run.userId ?? null}, ${run.prompt},
        ${run.category ?? null}, ${run.skills ? JSON.stringify(run.skills) : null}::jsonb, ${JSON.stringify(run.origin)}::jsonb,
        ${now.toISOString()}::timestamptz, ${limits.maxRunning}::int, ${limits.maxQueued}::int, ${run.traceparent ?? null})`,
      "nubabel_admit_run_mapped",
    );
    const status = row?.status;
    if (!status) return { refused: await this.counts(run.organizationId) };
    const starts = status === "running";
    const { opencode_session_id: opencodeSessionId, sidecar_url: sidecarUrl } = row;
    return {
      newSession: Boolean(row.new_session),
      ...(starts && !row.new_session ? { mapping: opencodeSessionId && sidecarUrl ? { opencodeSessionId, sidecarUrl } : null } : {}),
      run: {
        id: run.id,
        organizationId: run.organizationId,
        sessionId: run.sessionId,
        status,
        reason: null,
        prompt: run.prompt,
        userId: run.userId ?? null,
        category: run.category ?? null,
        skills: run.skills ?? null,
        origin: run.origin,
        opencodeSessionId: null,
        sidecarUrl: null,
        output: null,
        error: null,
        usage: null,
        model: null,
        contextRestored: null,
        abortRequested: false,
        traceparent: run.traceparent ?? null,
        createdAt: now,
        startedAt: starts ? now : null,
        finishedAt: null,
      },
    };
  }

  /** The organization's running and queued runs, for a refusal's message. */
  private async counts(organizationId: string): Promise<{ running: number; queued: number }> {
    const [counts] = await this.db
      .select({
        running: sql<number>`count(*) filter (where ${runs.status} = 'running')::int`,
        queued: sql<number>`count(*) filter (where ${runs.status} = 'queued')::int`,
      })
      .from(runs)
      .where(and(eq(runs.organizationId, organizationId), inArray(runs.status, [...UNFINISHED])));
    return { running: Number(counts?.running ?? 0), queued: Number(counts?.queued ?? 0) };
  }

  async claim(organizationId: string, limits: Limits): Promise<Run[]> {
    // Most calls (a run just ended) find nothing waiting: say so in one round trip, without a
    // transaction. The check waits for admissions in flight (drizzle/0005), so a run queued while
    // the one that ends was still running is seen here.
    const [waiting] = await rowsOf<{ queued: boolean }>(this.db, sql`select nubabel_runs_queued(${organizationId}) as queued`, "nubabel_runs_queued");
    if (!waiting?.queued) return [];
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

  async ended(runIds: string[]): Promise<string[]> {
    if (!runIds.length) return [];
    const rows = await this.db
      .select({ id: runs.id })
      .from(runs)
      .where(and(inArray(runs.id, runIds), notInArray(runs.status, [...UNFINISHED])));
    return rows.map((row) => row.id);
  }

  async placed(runId: string, placement: Placed): Promise<Run | undefined> {
    const restored = placement.contextRestored ? JSON.stringify(placement.contextRestored) : null;
    // One statement, so one round trip and atomic: the run and its session's state move together.
    const [row] = await rowsOf<Record<string, unknown>>(
      this.db,
      sql`with placed as (
            update ${runs} set opencode_session_id = ${placement.opencodeSessionId}, sidecar_url = ${placement.sidecarUrl}, context_restored = ${restored}::jsonb, checked_at = now()
            where id = ${runId} and status = 'running'
            returning *
          ), state as (
            update ${sessions} s set state = jsonb_build_object('opencodeSessionId', p.opencode_session_id, 'status', 'running'), updated_at = now()
            from placed p where s.organization_id = p.organization_id and s.id = p.session_id
          )
          select * from placed`,
      "nubabel_run_placed",
    );
    return row ? toRun(fromDriver(row)) : undefined;
  }

  async requestAbort(runId: string): Promise<Run | undefined> {
    const [row] = await this.db
      .update(runs)
      .set({ abortRequested: true })
      .where(and(eq(runs.id, runId), inArray(runs.status, [...UNFINISHED])))
      .returning();
    return row ? toRun(row) : undefined;
  }

  async finish(runId: string, ending: Ending, history: HistoryEntry[]): Promise<Run | undefined> {
    // One statement (one round trip, atomic): the run ends only from an unfinished state; its
    // history rows go in order (the serial seq keeps the prompt before the answer), and the
    // session's state, which is its agent's, moves only for a run that reached it (has history).
    const json = (value: unknown) => (value == null ? null : JSON.stringify(value));
    const [row] = await rowsOf<Record<string, unknown>>(
      this.db,
      sql`with ended as (
            update ${runs} set status = ${ending.status}, reason = ${ending.reason ?? null}, output = ${ending.output ?? null},
              error = ${json(ending.error)}::jsonb, usage = ${json(ending.usage)}::jsonb, model = ${ending.model ?? null},
              opencode_session_id = coalesce(${ending.opencodeSessionId ?? null}, opencode_session_id), finished_at = now()
            where id = ${runId} and status in (${sql.join(sourcesOf(ending.status).map((s) => sql`${s}`), sql`, `)})
            returning *
          ), history as (
            insert into ${messages} (id, organization_id, session_id, role, content, metadata, created_at)
            select h.id, e.organization_id, e.session_id, h.role, h.content, h.metadata, coalesce(h.created_at, now())
            from ended e cross join rows from (
              jsonb_to_recordset(${JSON.stringify(history.map(({ createdAt, ...entry }) => ({ ...entry, created_at: createdAt })))}::jsonb)
                as (id text, role text, content text, metadata jsonb, created_at timestamptz)
            ) with ordinality as h(id, role, content, metadata, created_at, n)
            order by h.n
          ), state as (
            update ${sessions} s set updated_at = now(), state = case
              when e.opencode_session_id is null then jsonb_set(s.state, '{status}', to_jsonb(e.status))
              else jsonb_build_object('opencodeSessionId', e.opencode_session_id, 'status', e.status) end
            from ended e where ${history.length > 0} and s.organization_id = e.organization_id and s.id = e.session_id
          )
          select * from ended`,
      // The text varies with the states it may end from.
      `nubabel_run_finish_${ending.status}`,
    );
    return row ? toRun(fromDriver(row)) : undefined;
  }

  async requeue(runId: string): Promise<boolean> {
    const rows = await this.db
      .update(runs)
      .set({ status: "queued", startedAt: null, checkedAt: null })
      .where(and(eq(runs.id, runId), eq(runs.status, "running"), isNull(runs.sidecarUrl)))
      .returning({ id: runs.id });
    return rows.length > 0;
  }

  async touch(runIds: string[]): Promise<void> {
    if (!runIds.length) return;
    await this.db.update(runs).set({ checkedAt: new Date() }).where(inArray(runs.id, runIds));
  }

  async runningOn(sidecarUrl: string, limit: number): Promise<Run[]> {
    const rows = await this.db
      .select()
      .from(runs)
      .where(and(eq(runs.status, "running"), eq(runs.sidecarUrl, sidecarUrl)))
      .orderBy(asc(runs.seq))
      .limit(limit);
    return rows.map(toRun);
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

  async unfinishedCounts(): Promise<{ running: number; queued: number }> {
    const [counts] = await this.db
      .select({
        running: sql<number>`count(*) filter (where ${runs.status} = 'running')::int`,
        queued: sql<number>`count(*) filter (where ${runs.status} = 'queued')::int`,
      })
      .from(runs)
      .where(inArray(runs.status, [...UNFINISHED]));
    return { running: Number(counts?.running ?? 0), queued: Number(counts?.queued ?? 0) };
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
