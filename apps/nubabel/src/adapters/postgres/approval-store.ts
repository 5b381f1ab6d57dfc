import { and, asc, desc, eq, inArray, isNull, lt, ne, notInArray, or, sql } from "drizzle-orm";
import type { ApprovalPolicy, Approvers } from "@nubabel/contracts";
import type { Db } from "../../db/database.js";
import { approvalPolicies, approvals, runs } from "../../db/schema.js";
import type { ApprovalStore, StoredApproval } from "../../approvals/ports.js";

type Row = typeof approvals.$inferSelect;

function toApproval(row: Row): StoredApproval {
  return {
    id: row.id,
    organizationId: row.organizationId,
    runId: row.runId,
    sessionId: row.sessionId,
    requestId: row.requestId,
    callId: row.callId,
    tool: row.tool,
    ...(row.provider ? { provider: row.provider } : {}),
    arguments: row.arguments,
    approvers: row.approvers as Approvers,
    status: row.status,
    requestedAt: row.requestedAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    ...(row.decidedBy ? { decidedBy: row.decidedBy } : {}),
    ...(row.decidedAt ? { decidedAt: row.decidedAt.toISOString() } : {}),
    ...(row.reason ? { reason: row.reason } : {}),
    repliedAt: row.repliedAt?.toISOString() ?? null,
    slack: row.slackChannel && row.slackTs ? { channel: row.slackChannel, ts: row.slackTs } : null,
  };
}

/** `ApprovalStore` on PostgreSQL or PGlite. */
export class PgApprovalStore implements ApprovalStore {
  constructor(private readonly db: Db) {}

  async policy(organizationId: string) {
    const [row] = await this.db
      .select()
      .from(approvalPolicies)
      .where(eq(approvalPolicies.organizationId, organizationId))
      .orderBy(desc(approvalPolicies.version))
      .limit(1);
    return row ? { policy: row.policy as ApprovalPolicy, version: row.version, updatedAt: row.createdAt } : { policy: { approvals: [] }, version: 0, updatedAt: null };
  }

  async setPolicy(organizationId: string, policy: ApprovalPolicy) {
    // Two writers racing for the same version: the primary key refuses one, which tries the next.
    for (let attempt = 0; ; attempt++) {
      const { version } = await this.policy(organizationId);
      try {
        const [row] = await this.db.insert(approvalPolicies).values({ organizationId, version: version + 1, policy }).returning();
        return { policy: row!.policy as ApprovalPolicy, version: row!.version, updatedAt: row!.createdAt };
      } catch (err) {
        if (attempt >= 3 || !isUniqueViolation(err)) throw err;
      }
    }
  }

  async create(row: Parameters<ApprovalStore["create"]>[0]) {
    const inserted = await this.db
      .insert(approvals)
      .values({
        id: row.id,
        organizationId: row.organizationId,
        runId: row.runId,
        sessionId: row.sessionId,
        requestId: row.requestId,
        callId: row.callId,
        tool: row.tool,
        provider: row.provider ?? null,
        arguments: row.arguments,
        approvers: row.approvers,
        status: "pending",
        requestedAt: new Date(row.requestedAt),
        expiresAt: new Date(row.expiresAt),
      })
      .onConflictDoNothing({ target: [approvals.runId, approvals.requestId] })
      .returning();
    if (inserted[0]) return { approval: toApproval(inserted[0]), created: true };
    const [existing] = await this.db.select().from(approvals).where(and(eq(approvals.runId, row.runId), eq(approvals.requestId, row.requestId)));
    return { approval: toApproval(existing!), created: false };
  }

  async get(organizationId: string, approvalId: string) {
    const [row] = await this.db.select().from(approvals).where(and(eq(approvals.organizationId, organizationId), eq(approvals.id, approvalId)));
    return row ? toApproval(row) : undefined;
  }

  async listForRun(organizationId: string, runId: string) {
    const rows = await this.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.organizationId, organizationId), eq(approvals.runId, runId)))
      .orderBy(asc(approvals.requestedAt), asc(approvals.id));
    return rows.map(toApproval);
  }

  async forCall(organizationId: string, sessionId: string, callId: string) {
    const rows = await this.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.organizationId, organizationId), eq(approvals.sessionId, sessionId), eq(approvals.callId, callId)));
    return rows.map(toApproval);
  }

  async pendingRuns(organizationId: string, runIds: string[]) {
    if (runIds.length === 0) return new Set<string>();
    const rows = await this.db
      .selectDistinct({ runId: approvals.runId })
      .from(approvals)
      .where(and(eq(approvals.organizationId, organizationId), inArray(approvals.runId, runIds), eq(approvals.status, "pending")));
    return new Set(rows.map((r) => r.runId));
  }

  async decide(organizationId: string, approvalId: string, to: { status: "approved" | "denied" | "expired"; decidedBy: string; reason: string }) {
    const [row] = await this.db
      .update(approvals)
      .set({ status: to.status, decidedBy: to.decidedBy, decidedAt: new Date(), reason: to.reason })
      .where(and(eq(approvals.organizationId, organizationId), eq(approvals.id, approvalId), eq(approvals.status, "pending")))
      .returning();
    return row ? toApproval(row) : undefined;
  }

  async expired(now: Date, limit: number) {
    const rows = await this.db
      .select()
      .from(approvals)
      .where(and(eq(approvals.status, "pending"), lt(approvals.expiresAt, now)))
      .orderBy(asc(approvals.expiresAt))
      .limit(limit);
    return rows.map(toApproval);
  }

  async unreplied(limit: number) {
    const rows = await this.db
      .select()
      .from(approvals)
      .where(and(ne(approvals.status, "pending"), isNull(approvals.repliedAt)))
      .orderBy(asc(approvals.decidedAt))
      .limit(limit);
    return rows.map(toApproval);
  }

  async markReplied(approvalId: string) {
    await this.db.update(approvals).set({ repliedAt: new Date() }).where(eq(approvals.id, approvalId));
  }

  async setSlackMessage(approvalId: string, channel: string, ts: string) {
    await this.db.update(approvals).set({ slackChannel: channel, slackTs: ts }).where(eq(approvals.id, approvalId));
  }

  async unpostedSlack(input: { requestedBefore: Date; claimedBefore: Date; except: string[]; limit: number }) {
    const rows = await this.db
      .select({ approval: approvals })
      .from(approvals)
      .innerJoin(runs, eq(runs.id, approvals.runId))
      .where(
        and(
          eq(approvals.status, "pending"),
          isNull(approvals.slackTs),
          sql`${runs.origin}->>'kind' = 'slack'`,
          lt(approvals.requestedAt, input.requestedBefore),
          or(isNull(approvals.slackClaimedAt), lt(approvals.slackClaimedAt, input.claimedBefore)),
          input.except.length ? notInArray(approvals.id, input.except) : undefined,
        ),
      )
      .orderBy(asc(approvals.requestedAt))
      .limit(input.limit);
    return rows.map((r) => toApproval(r.approval));
  }

  async claimSlack(approvalId: string, claimedBefore: Date) {
    // One conditional update: a second claimant waits on the row lock, then finds the claim fresh
    // (PostgreSQL re-checks the condition on the row it waited for) and updates nothing.
    const rows = await this.db
      .update(approvals)
      .set({ slackClaimedAt: new Date() })
      .where(
        and(
          eq(approvals.id, approvalId),
          eq(approvals.status, "pending"),
          isNull(approvals.slackTs),
          or(isNull(approvals.slackClaimedAt), lt(approvals.slackClaimedAt, claimedBefore)),
        ),
      )
      .returning({ id: approvals.id });
    return rows.length === 1;
  }

  async releaseSlack(approvalId: string) {
    await this.db.update(approvals).set({ slackClaimedAt: null }).where(and(eq(approvals.id, approvalId), isNull(approvals.slackTs)));
  }
}

function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } };
  return e.code === "23505" || e.cause?.code === "23505";
}

