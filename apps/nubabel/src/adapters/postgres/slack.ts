import { and, eq, sql } from "drizzle-orm";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { slackLinks, slackThreads } from "../../db/schema.js";
import { OrganizationNotFound } from "../../organizations/errors.js";
import type { SlackLinks, SlackThreads, ThreadKey, ThreadRecord } from "../../slack/index.js";

type AnyDb = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

/** `SlackLinks` on PostgreSQL or PGlite; `link` re-points a workspace that was linked before. */
export class PgSlackLinks implements SlackLinks {
  constructor(private readonly db: AnyDb) {}

  async organizationFor(teamId: string): Promise<string | undefined> {
    const [row] = await this.db.select({ organizationId: slackLinks.organizationId }).from(slackLinks).where(eq(slackLinks.teamId, teamId)).limit(1);
    return row?.organizationId;
  }

  /** Throws `OrganizationNotFound` when the organization does not exist. */
  async link(teamId: string, organizationId: string): Promise<void> {
    try {
      await this.db
        .insert(slackLinks)
        .values({ teamId, organizationId })
        .onConflictDoUpdate({ target: slackLinks.teamId, set: { organizationId, createdAt: sql`now()` } });
    } catch (err) {
      // 23503: the foreign key to organizations (drizzle wraps the driver's error in `cause`).
      const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === "23503") throw new OrganizationNotFound(organizationId);
      throw err;
    }
  }
}

const record = { sessionId: slackThreads.sessionId, organizationId: slackThreads.organizationId };

/** `SlackThreads` on PostgreSQL or PGlite: insert-or-keep on the primary key, so the first claim wins. */
export class PgSlackThreads implements SlackThreads {
  constructor(private readonly db: AnyDb) {}

  async find(t: ThreadKey): Promise<ThreadRecord | undefined> {
    const [row] = await this.db
      .select(record)
      .from(slackThreads)
      .where(and(eq(slackThreads.teamId, t.teamId), eq(slackThreads.channelId, t.channelId), eq(slackThreads.threadTs, t.threadTs)))
      .limit(1);
    return row;
  }

  async claim(t: ThreadKey, claim: ThreadRecord): Promise<ThreadRecord> {
    const [inserted] = await this.db.insert(slackThreads).values({ ...t, ...claim }).onConflictDoNothing().returning(record);
    if (inserted) return inserted;
    const kept = await this.find(t);
    if (!kept) throw new Error(`slack thread ${t.channelId}/${t.threadTs} vanished while being claimed`);
    return kept;
  }
}
