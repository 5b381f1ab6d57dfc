import { and, asc, desc, eq, gt, sql } from "drizzle-orm";
import { Ids, type DeliveryStatus, type WebhookEventType } from "@nubabel/contracts";
import { rowsOf, type Db } from "../../db/database.js";
import { webhookDeliveries, webhookEndpoints } from "../../db/schema.js";
import { EXCERPT_BYTES } from "../../webhooks/index.js";
import type { AttemptResult, ClaimedDelivery, NewEvent, StoredDelivery, StoredEndpoint, WebhookStore } from "../../webhooks/ports.js";

type EndpointRow = typeof webhookEndpoints.$inferSelect;
type DeliveryRow = typeof webhookDeliveries.$inferSelect;

const toEndpoint = (row: EndpointRow): StoredEndpoint => ({
  id: row.id,
  organizationId: row.organizationId,
  url: row.url,
  events: row.events as WebhookEventType[],
  enabled: row.enabled,
  secret: row.secret,
  previousSecret: row.previousSecret,
  previousSecretExpiresAt: row.previousSecretExpiresAt,
  disabledReason: row.disabledReason,
  disabledAt: row.disabledAt,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const toDelivery = (row: DeliveryRow): StoredDelivery => ({
  id: row.id,
  endpointId: row.endpointId,
  runId: row.runId,
  type: row.type as WebhookEventType,
  status: row.status,
  attempts: row.attempts,
  lastStatusCode: row.lastStatusCode,
  lastResponse: row.lastResponse,
  lastError: row.lastError,
  lastAttemptAt: row.lastAttemptAt,
  nextAttemptAt: row.nextAttemptAt,
  createdAt: row.createdAt,
  deliveredAt: row.deliveredAt,
});

const ms = (n: number) => sql`(${Math.max(0, Math.round(n))}::double precision * interval '1 millisecond')`;
const date = (v: unknown): Date | null => (v === null || v === undefined ? null : v instanceof Date ? v : new Date(String(v)));
// Bounded again here, whatever the sender read: a log row stays small.
const bounded = (s: string | undefined, max: number) => (s === undefined ? null : s.length > max ? s.slice(0, max) : s);

/** Webhook endpoints and their deliveries (the outbox and its log) on PostgreSQL or PGlite. */
export class PgWebhookStore implements WebhookStore {
  constructor(private readonly db: Db) {}

  async create(row: Pick<StoredEndpoint, "id" | "organizationId" | "url" | "events" | "enabled" | "secret">): Promise<StoredEndpoint> {
    const [inserted] = await this.db.insert(webhookEndpoints).values(row).returning();
    return toEndpoint(inserted!);
  }

  async list(organizationId: string): Promise<StoredEndpoint[]> {
    const rows = await this.db
      .select()
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.organizationId, organizationId))
      .orderBy(webhookEndpoints.createdAt, webhookEndpoints.id);
    return rows.map(toEndpoint);
  }

  async get(organizationId: string, id: string): Promise<StoredEndpoint | undefined> {
    const [row] = await this.db.select().from(webhookEndpoints).where(this.owned(organizationId, id)).limit(1);
    return row && toEndpoint(row);
  }

  async update(organizationId: string, id: string, patch: Partial<Pick<StoredEndpoint, "url" | "events" | "enabled">>): Promise<StoredEndpoint | undefined> {
    const [row] = await this.db
      .update(webhookEndpoints)
      .set({
        ...patch,
        ...(patch.enabled === true ? { disabledReason: null, disabledAt: null, failingSince: null } : {}),
        updatedAt: new Date(),
      })
      .where(this.owned(organizationId, id))
      .returning();
    return row && toEndpoint(row);
  }

  async remove(organizationId: string, id: string): Promise<boolean> {
    const rows = await this.db.delete(webhookEndpoints).where(this.owned(organizationId, id)).returning({ id: webhookEndpoints.id });
    return rows.length > 0;
  }

  async rotate(organizationId: string, id: string, secret: string, previousUntil: Date): Promise<StoredEndpoint | undefined> {
    const [row] = await this.db
      .update(webhookEndpoints)
      .set({ previousSecret: sql`${webhookEndpoints.secret}`, previousSecretExpiresAt: previousUntil, secret, updatedAt: new Date() })
      .where(this.owned(organizationId, id))
      .returning();
    return row && toEndpoint(row);
  }

  async *listSealedSecrets(): AsyncIterable<{ id: string; organizationId: string; sealed: string }> {
    const page = 500;
    let after = "";
    for (;;) {
      const rows = await this.db
        .select({ id: webhookEndpoints.id, organizationId: webhookEndpoints.organizationId, secret: webhookEndpoints.secret, previous: webhookEndpoints.previousSecret })
        .from(webhookEndpoints)
        .where(after ? gt(webhookEndpoints.id, after) : undefined)
        .orderBy(asc(webhookEndpoints.id))
        .limit(page);
      for (const row of rows) {
        yield { id: `${row.id}/current`, organizationId: row.organizationId, sealed: row.secret };
        if (row.previous) yield { id: `${row.id}/previous`, organizationId: row.organizationId, sealed: row.previous };
      }
      if (rows.length < page) return;
      after = rows.at(-1)!.id;
    }
  }

  async replaceSealedSecret(id: string, previous: string, next: string): Promise<boolean> {
    const [endpointId, which] = id.split("/");
    const column = which === "previous" ? webhookEndpoints.previousSecret : webhookEndpoints.secret;
    const rows = await this.db
      .update(webhookEndpoints)
      .set(which === "previous" ? { previousSecret: next } : { secret: next })
      .where(and(eq(webhookEndpoints.id, endpointId ?? ""), eq(column, previous)))
      .returning({ id: webhookEndpoints.id });
    return rows.length > 0;
  }

  async listened(organizationId: string): Promise<WebhookEventType[]> {
    const rows = await this.db
      .select({ events: webhookEndpoints.events })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.organizationId, organizationId), eq(webhookEndpoints.enabled, true)));
    return [...new Set(rows.flatMap((row) => row.events as WebhookEventType[]))];
  }

  async enqueue(event: NewEvent, retryForMs: number): Promise<number> {
    const targets = await this.db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(this.listening(event.organizationId, event.type));
    if (!targets.length) return 0;
    const rows = await this.db
      .insert(webhookDeliveries)
      .values(
        targets.map((t) => ({
          id: Ids.create(Ids.Prefix.delivery),
          organizationId: event.organizationId,
          endpointId: t.id,
          runId: event.runId,
          type: event.type,
          eventKey: event.eventKey,
          payload: event.payload,
          retryUntil: sql`now() + ${ms(retryForMs)}`,
        })),
      )
      .onConflictDoNothing()
      .returning({ id: webhookDeliveries.id });
    return rows.length;
  }

  async missedEndings(since: Date, limit: number): Promise<Array<{ organizationId: string; runId: string }>> {
    const rows = await rowsOf<{ organization_id: string; id: string }>(
      this.db,
      sql`
        select r.organization_id, r.id from runs r
        where r.finished_at > ${since.toISOString()}::timestamptz and r.status in ('completed', 'failed', 'aborted')
          and exists (select 1 from webhook_endpoints e
                      where e.organization_id = r.organization_id and e.enabled and e.created_at < r.finished_at
                        and e.events @> jsonb_build_array('run.' || r.status))
          and not exists (select 1 from webhook_deliveries d where d.run_id = r.id and d.type = 'run.' || r.status)
        order by r.finished_at
        limit ${limit}`,
    );
    return rows.map((r) => ({ organizationId: r.organization_id, runId: r.id }));
  }

    async claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await rowsOf<Record<string, unknown>>(
      this.db,
      sql`
        with due as (
          select d.id from webhook_deliveries d
          join webhook_endpoints e on e.id = d.endpoint_id
          where d.status = 'pending' and d.next_attempt_at <= now()
            and (d.lease_until is null or d.lease_until < now())
            and e.enabled
            -- a run's events go out in order: nothing while an earlier one to this endpoint is pending
            and not exists (
              select 1 from webhook_deliveries p
              where p.endpoint_id = d.endpoint_id and p.run_id = d.run_id and p.seq < d.seq and p.status = 'pending'
            )
          order by d.seq
          limit ${limit}
          for update of d skip locked
        ), claimed as (
          update webhook_deliveries w set lease_until = now() + ${ms(leaseMs)}, attempts = w.attempts + 1
          from due where w.id = due.id
          returning w.id, w.seq, w.payload, w.attempts, w.endpoint_id
        )
        select c.id, c.payload, c.attempts, e.id as endpoint_id, e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
        from claimed c join webhook_endpoints e on e.id = c.endpoint_id
        order by c.seq`,
    );
    return rows.map((r) => ({
      id: String(r.id),
      payload: String(r.payload),
      attempts: Number(r.attempts),
      endpoint: {
        id: String(r.endpoint_id),
        url: String(r.url),
        secret: String(r.secret),
        previousSecret: (r.previous_secret as string | null) ?? null,
        previousSecretExpiresAt: date(r.previous_secret_expires_at),
      },
    }));
  }

  async settle(id: string, result: AttemptResult, retry: { retryInMs: number; disableAfterMs: number }): Promise<{ status: DeliveryStatus; endpointDisabled: boolean }> {
    return this.db.transaction(async (tx) => {
      const last = {
        lastStatusCode: result.statusCode ?? null,
        lastResponse: bounded(result.excerpt, EXCERPT_BYTES * 4),
        lastError: result.ok ? null : bounded(result.error, 1_000),
        lastAttemptAt: sql`now()`,
        leaseUntil: null,
      };
      const next = sql`now() + ${ms(retry.retryInMs)}`;
      const [row] = await tx
        .update(webhookDeliveries)
        .set(
          result.ok
            ? { ...last, status: "delivered", deliveredAt: sql`now()` }
            : { ...last, status: sql`case when ${next} > ${webhookDeliveries.retryUntil} then 'failed' else 'pending' end`, nextAttemptAt: next },
        )
        .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.status, "pending")))
        .returning({ endpointId: webhookDeliveries.endpointId, status: webhookDeliveries.status });
      if (!row) return { status: "delivered", endpointDisabled: false };
      if (result.ok) {
        await tx.update(webhookEndpoints).set({ failingSince: null }).where(eq(webhookEndpoints.id, row.endpointId));
        return { status: row.status, endpointDisabled: false };
      }
      const [endpoint] = await tx
        .update(webhookEndpoints)
        .set({ failingSince: sql`coalesce(${webhookEndpoints.failingSince}, now())` })
        .where(eq(webhookEndpoints.id, row.endpointId))
        .returning({ enabled: webhookEndpoints.enabled, failingSince: webhookEndpoints.failingSince, now: sql<unknown>`now()` });
      const since = date(endpoint?.failingSince);
      const now = date(endpoint?.now) ?? new Date();
      if (!endpoint?.enabled || !since || now.getTime() - since.getTime() < retry.disableAfterMs) return { status: row.status, endpointDisabled: false };
      const hours = Math.round((retry.disableAfterMs / 3_600_000) * 10) / 10;
      await tx
        .update(webhookEndpoints)
        .set({
          enabled: false,
          disabledAt: sql`now()`,
          disabledReason: `every delivery failed for ${hours} h (since ${since.toISOString()}); the last: ${bounded(result.error, 300)}. Fix the endpoint, then enable it again (PATCH {"enabled": true}).`,
          updatedAt: sql`now()`,
        })
        .where(eq(webhookEndpoints.id, row.endpointId));
      return { status: row.status, endpointDisabled: true };
    });
  }

  async deliveries(organizationId: string, endpointId: string, limit: number): Promise<StoredDelivery[]> {
    const rows = await this.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.organizationId, organizationId), eq(webhookDeliveries.endpointId, endpointId)))
      .orderBy(desc(webhookDeliveries.seq))
      .limit(limit);
    return rows.map(toDelivery);
  }

  async retry(organizationId: string, endpointId: string, deliveryId: string, retryForMs: number): Promise<StoredDelivery | undefined> {
    const [row] = await this.db
      .update(webhookDeliveries)
      .set({ status: "pending", nextAttemptAt: sql`now()`, retryUntil: sql`now() + ${ms(retryForMs)}`, deliveredAt: null })
      .where(and(eq(webhookDeliveries.organizationId, organizationId), eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.id, deliveryId)))
      .returning();
    return row && toDelivery(row);
  }

  private owned(organizationId: string, id: string) {
    return and(eq(webhookEndpoints.organizationId, organizationId), eq(webhookEndpoints.id, id));
  }

  private listening(organizationId: string, type: WebhookEventType) {
    return and(
      eq(webhookEndpoints.organizationId, organizationId),
      eq(webhookEndpoints.enabled, true),
      sql`${webhookEndpoints.events} @> ${JSON.stringify([type])}::jsonb`,
    );
  }
}
