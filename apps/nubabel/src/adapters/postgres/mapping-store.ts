import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "../../db/database.js";
import { sessionMappings } from "../../db/schema.js";
import type { MappingRecord, MappingStore } from "../../mapping/ports.js";

const columns = {
  sessionId: sessionMappings.sessionId,
  opencodeSessionId: sessionMappings.opencodeSessionId,
  organizationId: sessionMappings.organizationId,
  sidecarUrl: sessionMappings.sidecarUrl,
};

const placeholders = {
  sessionId: sql.placeholder("sessionId"),
  opencodeSessionId: sql.placeholder("opencodeSessionId"),
  organizationId: sql.placeholder("organizationId"),
  sidecarUrl: sql.placeholder("sidecarUrl"),
};

// Every new conversation writes one and every follow-up whose cache missed reads one: each is
// parsed and planned once per connection.
const prepareInsert = (db: Db) =>
  db
    .insert(sessionMappings)
    .values(placeholders)
    .onConflictDoNothing({ target: [sessionMappings.organizationId, sessionMappings.sessionId] })
    .returning(columns)
    .prepare("nubabel_mapping_insert");
const prepareBySession = (db: Db) =>
  db
    .select(columns)
    .from(sessionMappings)
    .where(and(eq(sessionMappings.organizationId, placeholders.organizationId), eq(sessionMappings.sessionId, placeholders.sessionId)))
    .limit(1)
    .prepare("nubabel_mapping_by_session");

/** `MappingStore` on PostgreSQL or PGlite; the primary key on (organization, session) settles races. */
export class PgMappingStore implements MappingStore {
  private readonly inserting: ReturnType<typeof prepareInsert>;
  private readonly reading: ReturnType<typeof prepareBySession>;

  constructor(private readonly db: Db) {
    this.inserting = prepareInsert(db);
    this.reading = prepareBySession(db);
  }

  async insert(record: MappingRecord): Promise<MappingRecord> {
    const { sessionId, opencodeSessionId, organizationId, sidecarUrl } = record;
    const [inserted] = await this.inserting.execute({ sessionId, opencodeSessionId, organizationId, sidecarUrl });
    if (inserted) return inserted;
    const existing = await this.bySession(record.organizationId, record.sessionId);
    if (!existing) throw new Error(`mapping for ${record.sessionId} vanished while being written`);
    return existing;
  }

  async bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined> {
    const [row] = await this.reading.execute({ organizationId, sessionId });
    return row;
  }

  async move(record: MappingRecord, fromOpencodeSessionId: string): Promise<MappingRecord> {
    const [moved] = await this.db
      .update(sessionMappings)
      .set({ opencodeSessionId: record.opencodeSessionId, sidecarUrl: record.sidecarUrl, createdAt: new Date() })
      .where(
        and(
          eq(sessionMappings.organizationId, record.organizationId),
          eq(sessionMappings.sessionId, record.sessionId),
          eq(sessionMappings.opencodeSessionId, fromOpencodeSessionId),
        ),
      )
      .returning(columns);
    if (moved) return moved;
    const current = await this.bySession(record.organizationId, record.sessionId);
    if (!current) throw new Error(`mapping for ${record.sessionId} vanished while being moved`);
    return current;
  }

  async latestSidecar(organizationId: string, among: string[]): Promise<string | undefined> {
    const [row] = await this.db
      .select({ sidecarUrl: sessionMappings.sidecarUrl })
      .from(sessionMappings)
      .where(and(eq(sessionMappings.organizationId, organizationId), inArray(sessionMappings.sidecarUrl, among)))
      .orderBy(desc(sessionMappings.createdAt))
      .limit(1);
    return row?.sidecarUrl;
  }

  async byOpencode(opencodeSessionId: string): Promise<MappingRecord | undefined> {
    const [row] = await this.db
      .select(columns)
      .from(sessionMappings)
      .where(eq(sessionMappings.opencodeSessionId, opencodeSessionId))
      .limit(1);
    return row;
  }
}
