import { and, asc, eq, gt } from "drizzle-orm";
import type { SealedCredentialRows } from "../../crypto/rotation.js";
import { isUniqueViolation, type Db } from "../../db/database.js";
import { mcpConnections } from "../../db/schema.js";
import type { ConnectionChanges, ConnectionRecord, ConnectionRepository, StoredConnection } from "../../mcp/connection-store.js";
import { McpConnectionNameTaken } from "../../mcp/errors.js";
import { OrganizationNotFound } from "../../organizations/errors.js";

type Row = typeof mcpConnections.$inferSelect;

const toRecord = (row: Row): ConnectionRecord => ({
  id: row.id,
  organizationId: row.organizationId,
  provider: row.provider,
  name: row.name,
  enabled: row.enabled,
  ...(row.transport ? { transport: row.transport } : {}),
  sealedCredentials: row.sealedCredentials,
  credentialNames: row.credentialNames,
  createdAt: row.createdAt,
  updatedAt: row.updatedAt,
});

const stored = ({ createdAt: _c, updatedAt: _u, ...row }: ConnectionRecord): StoredConnection => row;

/** MCP connections on PostgreSQL or PGlite. Every query is filtered by organization except the rotation pair. */
export class PgConnectionStore implements ConnectionRepository, SealedCredentialRows {
  constructor(private readonly db: Db) {}

  async listEnabled(organizationId: string): Promise<StoredConnection[]> {
    const rows = await this.db
      .select()
      .from(mcpConnections)
      .where(and(eq(mcpConnections.organizationId, organizationId), eq(mcpConnections.enabled, true)))
      .orderBy(asc(mcpConnections.createdAt), asc(mcpConnections.id));
    return rows.map((r) => stored(toRecord(r)));
  }

  async get(organizationId: string, id: string): Promise<StoredConnection | undefined> {
    const record = await this.find(organizationId, id);
    return record && stored(record);
  }

  async listAll(organizationId: string): Promise<ConnectionRecord[]> {
    const rows = await this.db
      .select()
      .from(mcpConnections)
      .where(eq(mcpConnections.organizationId, organizationId))
      .orderBy(asc(mcpConnections.createdAt), asc(mcpConnections.id));
    return rows.map(toRecord);
  }

  async find(organizationId: string, id: string): Promise<ConnectionRecord | undefined> {
    const [row] = await this.db
      .select()
      .from(mcpConnections)
      .where(and(eq(mcpConnections.organizationId, organizationId), eq(mcpConnections.id, id)))
      .limit(1);
    return row && toRecord(row);
  }

  async insert(row: StoredConnection): Promise<ConnectionRecord> {
    try {
      const [created] = await this.db
        .insert(mcpConnections)
        .values({ ...row, transport: row.transport ?? null })
        .returning();
      return toRecord(created!);
    } catch (err) {
      if (isUniqueViolation(err)) throw new McpConnectionNameTaken({ name: row.name });
      // 23503: the foreign key to organizations (drizzle wraps the driver's error in `cause`).
      const code = (err as { code?: string }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === "23503") throw new OrganizationNotFound(row.organizationId);
      throw err;
    }
  }

  async update(organizationId: string, id: string, changes: ConnectionChanges): Promise<ConnectionRecord | undefined> {
    try {
      const [row] = await this.db
        .update(mcpConnections)
        .set({ ...changes, ...("transport" in changes ? { transport: changes.transport ?? null } : {}), updatedAt: new Date() })
        .where(and(eq(mcpConnections.organizationId, organizationId), eq(mcpConnections.id, id)))
        .returning();
      return row && toRecord(row);
    } catch (err) {
      if (isUniqueViolation(err) && changes.name !== undefined) throw new McpConnectionNameTaken({ name: changes.name });
      throw err;
    }
  }

  async remove(organizationId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(mcpConnections)
      .where(and(eq(mcpConnections.organizationId, organizationId), eq(mcpConnections.id, id)))
      .returning({ id: mcpConnections.id });
    return rows.length > 0;
  }

  /** Every organization's rows, in pages, so a large table is not read into memory at once. */
  async *listSealed(): AsyncIterable<{ id: string; organizationId: string; sealed: string }> {
    const page = 500;
    let after = "";
    for (;;) {
      const rows = await this.db
        .select({ id: mcpConnections.id, organizationId: mcpConnections.organizationId, sealed: mcpConnections.sealedCredentials })
        .from(mcpConnections)
        .where(after ? gt(mcpConnections.id, after) : undefined)
        .orderBy(asc(mcpConnections.id))
        .limit(page);
      yield* rows;
      if (rows.length < page) return;
      after = rows.at(-1)!.id;
    }
  }

  /** Compare-and-swap: a PATCH that re-sealed the row meanwhile wins, and rotation skips it. */
  async replace(id: string, previous: string, next: string): Promise<boolean> {
    const rows = await this.db
      .update(mcpConnections)
      .set({ sealedCredentials: next })
      .where(and(eq(mcpConnections.id, id), eq(mcpConnections.sealedCredentials, previous)))
      .returning({ id: mcpConnections.id });
    return rows.length > 0;
  }
}
