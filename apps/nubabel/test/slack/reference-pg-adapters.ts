import { and, eq, sql } from "drizzle-orm";
import { index, pgTable, primaryKey, text, timestamp, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { organizations } from "../../src/db/schema.js";
import type { SlackLinks, SlackThreads, ThreadKey, ThreadRecord } from "../../src/slack/index.js";

/**
 * Reference PostgreSQL adapters for the Slack ports, proven against the port contracts in
 * `pg-adapters.test.ts`. For main.ts: the tables go to `db/schema.ts` (and a generated migration),
 * the classes to `adapters/postgres/`. They live here only because this module owns no other path.
 */

/** A Slack workspace linked to an organization (`nubabel org link-slack`). */
export const slackLinks = pgTable(
  "slack_links",
  {
    teamId: text("team_id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("slack_links_organization_idx").on(t.organizationId)],
);

/**
 * A Slack thread bound to its Nubabel session. The primary key settles two racing first mentions.
 * `session_id` has no foreign key: the thread is claimed before the first delegation creates the
 * session row.
 */
export const slackThreads = pgTable(
  "slack_threads",
  {
    teamId: text("team_id").notNull(),
    channelId: text("channel_id").notNull(),
    threadTs: text("thread_ts").notNull(),
    sessionId: text("session_id").notNull(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "slack_threads_pk", columns: [t.teamId, t.channelId, t.threadTs] }), index("slack_threads_session_idx").on(t.sessionId)],
);

/** The migration these tables need (what `drizzle-kit generate` writes for the definitions above). */
export const MIGRATION_SQL = [
  sql`CREATE TABLE IF NOT EXISTS "slack_links" (
    "team_id" text PRIMARY KEY NOT NULL,
    "organization_id" text NOT NULL REFERENCES "organizations"("id") ON DELETE cascade,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL)`,
  sql`CREATE INDEX IF NOT EXISTS "slack_links_organization_idx" ON "slack_links" ("organization_id")`,
  sql`CREATE TABLE IF NOT EXISTS "slack_threads" (
    "team_id" text NOT NULL,
    "channel_id" text NOT NULL,
    "thread_ts" text NOT NULL,
    "session_id" text NOT NULL,
    "organization_id" text NOT NULL REFERENCES "organizations"("id") ON DELETE cascade,
    "created_at" timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT "slack_threads_pk" PRIMARY KEY ("team_id", "channel_id", "thread_ts"))`,
  sql`CREATE INDEX IF NOT EXISTS "slack_threads_session_idx" ON "slack_threads" ("session_id")`,
];

type AnyDb = PgDatabase<PgQueryResultHKT, Record<string, unknown>>;

/** `SlackLinks` on PostgreSQL or PGlite; `link` re-points a workspace that was linked before. */
export class PgSlackLinks implements SlackLinks {
  constructor(private readonly db: AnyDb) {}

  async organizationFor(teamId: string): Promise<string | undefined> {
    const [row] = await this.db.select({ organizationId: slackLinks.organizationId }).from(slackLinks).where(eq(slackLinks.teamId, teamId)).limit(1);
    return row?.organizationId;
  }

  async link(teamId: string, organizationId: string): Promise<void> {
    await this.db
      .insert(slackLinks)
      .values({ teamId, organizationId })
      .onConflictDoUpdate({ target: slackLinks.teamId, set: { organizationId, createdAt: sql`now()` } });
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
