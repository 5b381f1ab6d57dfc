import { and, asc, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../../db/database.js";
import { messages, sessions } from "../../db/schema.js";
import type { Message, Position, Session, SessionStore, State } from "../../sessions/sessions.js";

type Row = typeof sessions.$inferSelect;

const toSession = (row: Row): Session => ({ ...row, state: row.state as State });

/** A session by its key; every progress stream opened reads one, so it is parsed and planned once. */
const prepareGet = (db: Db) =>
  db
    .select()
    .from(sessions)
    .where(and(eq(sessions.organizationId, sql.placeholder("organizationId")), eq(sessions.id, sql.placeholder("id"))))
    .limit(1)
    .prepare("nubabel_session_get");

/** `SessionStore` on PostgreSQL or PGlite. */
export class PgSessionStore implements SessionStore {
  private readonly byKey: ReturnType<typeof prepareGet>;

  constructor(private readonly db: Db) {
    this.byKey = prepareGet(db);
  }

  async ensure(input: { id: string; organizationId: string; userId?: string }): Promise<Session> {
    // Most are used already: one read. Otherwise insert-or-nothing then read, so concurrent first
    // uses of one id all end on the same row.
    const found = await this.get(input.organizationId, input.id);
    if (found) return found;
    const [created] = await this.db
      .insert(sessions)
      .values({
        id: input.id,
        organizationId: input.organizationId,
        userId: input.userId ?? null,
        state: { opencodeSessionId: null, status: "created" },
      })
      .onConflictDoNothing({ target: [sessions.organizationId, sessions.id] })
      .returning();
    if (created) return toSession(created);
    const existing = await this.get(input.organizationId, input.id);
    if (!existing) throw new Error(`session ${input.id} vanished while being created`);
    return existing;
  }

  async get(organizationId: string, id: string): Promise<Session | undefined> {
    const [row] = await this.byKey.execute({ organizationId, id });
    return row ? toSession(row) : undefined;
  }

  async setState(organizationId: string, id: string, state: State): Promise<void> {
    await this.db.update(sessions).set({ state, updatedAt: new Date() }).where(key(organizationId, id));
  }

  async addMessage(organizationId: string, sessionId: string, message: Omit<Message, "createdAt"> & { createdAt?: Date }): Promise<void> {
    await this.db.insert(messages).values({ ...message, organizationId, sessionId });
  }

  async messages(organizationId: string, sessionId: string): Promise<Message[]> {
    const rows = await this.db
      .select({
        id: messages.id,
        role: messages.role,
        content: messages.content,
        metadata: messages.metadata,
        createdAt: messages.createdAt,
      })
      .from(messages)
      .where(and(eq(messages.organizationId, organizationId), eq(messages.sessionId, sessionId)))
      .orderBy(asc(messages.seq));
    return rows;
  }

  async list(organizationId: string, options: { limit: number; after?: Position }): Promise<Session[]> {
    // Compared and ordered at the millisecond, as a cursor carries it (a JS Date), so that rows
    // created within one millisecond neither repeat nor go missing across pages.
    const createdMs = sql`date_trunc('milliseconds', ${sessions.createdAt})`;
    const after = options.after;
    const rows = await this.db
      .select()
      .from(sessions)
      .where(
        and(
          eq(sessions.organizationId, organizationId),
          after ? sql`(${createdMs}, ${sessions.id}) < (${after.createdAt.toISOString()}::timestamptz, ${after.id})` : undefined,
        ),
      )
      .orderBy(desc(createdMs), desc(sessions.id))
      .limit(options.limit);
    return rows.map(toSession);
  }
}

function key(organizationId: string, id: string) {
  return and(eq(sessions.organizationId, organizationId), eq(sessions.id, id));
}
