import { and, desc, eq, inArray } from "drizzle-orm";
import type { Db } from "../../db/database.js";
import { sessionMappings } from "../../db/schema.js";
import type { MappingRecord, MappingStore } from "../../mapping/ports.js";

const columns = {
  sessionId: sessionMappings.sessionId,
  opencodeSessionId: sessionMappings.opencodeSessionId,
  organizationId: sessionMappings.organizationId,
  sidecarUrl: sessionMappings.sidecarUrl,
};

/** `MappingStore` on PostgreSQL or PGlite; the primary key on (organization, session) settles races. */
export class PgMappingStore implements MappingStore {
  constructor(private readonly db: Db) {}

  async insert(record: MappingRecord): Promise<MappingRecord> {
    const [inserted] = await this.db
      .insert(sessionMappings)
      .values(record)
      .onConflictDoNothing({ target: [sessionMappings.organizationId, sessionMappings.sessionId] })
      .returning(columns);
    if (inserted) return inserted;
    const existing = await this.bySession(record.organizationId, record.sessionId);
    if (!existing) throw new Error(`mapping for ${record.sessionId} vanished while being written`);
    return existing;
  }

  async bySession(organizationId: string, sessionId: string): Promise<MappingRecord | undefined> {
    const [row] = await this.db
      .select(columns)
      .from(sessionMappings)
      .where(and(eq(sessionMappings.organizationId, organizationId), eq(sessionMappings.sessionId, sessionId)))
      .limit(1);
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
