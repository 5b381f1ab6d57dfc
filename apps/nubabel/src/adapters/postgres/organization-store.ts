import { and, asc, count, eq, isNull, ne, sql } from "drizzle-orm";
import type { Db, Tx } from "../../db/database.js";
import { apiKeys, organizations } from "../../db/schema.js";
import type { KeyHolder, KeyRecord, Organization, OrganizationStore, StoredKey } from "../../organizations/organizations.js";

type KeyRow = typeof apiKeys.$inferSelect;

/** `OrganizationStore` on PostgreSQL or PGlite. */
export class PgOrganizationStore implements OrganizationStore {
  constructor(private readonly db: Db) {}

  async create(org: { id: string; name: string }, key: StoredKey): Promise<Organization> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.insert(organizations).values(org).returning();
      await tx.insert(apiKeys).values({ id: key.id, organizationId: org.id, keyHash: key.hash, prefix: key.prefix });
      return row!;
    });
  }

  async list(): Promise<Array<Organization & { keys: number }>> {
    const rows = await this.db
      .select({ id: organizations.id, name: organizations.name, createdAt: organizations.createdAt, keys: count(apiKeys.id) })
      .from(organizations)
      .leftJoin(apiKeys, and(eq(apiKeys.organizationId, organizations.id), isNull(apiKeys.revokedAt)))
      .groupBy(organizations.id)
      .orderBy(organizations.createdAt, organizations.id);
    return rows.map((r) => ({ ...r, keys: Number(r.keys) }));
  }

  async findByKeyHash(hash: string): Promise<KeyHolder | undefined> {
    const [row] = await this.db
      .select({ id: organizations.id, name: organizations.name, createdAt: organizations.createdAt, keyId: apiKeys.id })
      .from(apiKeys)
      .innerJoin(organizations, eq(organizations.id, apiKeys.organizationId))
      .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
      .limit(1);
    return row;
  }

  async isKeyActive(organizationId: string, keyId: string): Promise<boolean> {
    const [row] = await this.db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(eq(apiKeys.organizationId, organizationId), eq(apiKeys.id, keyId), isNull(apiKeys.revokedAt)))
      .limit(1);
    return row !== undefined;
  }

  async listKeys(organizationId: string): Promise<KeyRecord[] | undefined> {
    const [org] = await this.db.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, organizationId));
    if (!org) return undefined;
    const rows = await this.db.select().from(apiKeys).where(eq(apiKeys.organizationId, organizationId)).orderBy(asc(apiKeys.createdAt), asc(apiKeys.id));
    return rows.map(record);
  }

  async addKey(organizationId: string, key: StoredKey & { name?: string }, bounds: { active: number; revoked: number }): Promise<KeyRecord | "no_organization" | "too_many"> {
    return this.db.transaction(async (tx) => {
      if (!(await lockOrganization(tx, organizationId))) return "no_organization" as const;
      const [active] = await tx.select({ n: count() }).from(apiKeys).where(and(eq(apiKeys.organizationId, organizationId), isNull(apiKeys.revokedAt)));
      if (Number(active?.n ?? 0) >= bounds.active) return "too_many" as const;
      const [row] = await tx
        .insert(apiKeys)
        .values({ id: key.id, organizationId, keyHash: key.hash, prefix: key.prefix, ...(key.name ? { name: key.name } : {}) })
        .returning();
      // Made and revoked in a loop, keys would pile up: only the latest revoked ones are kept.
      await tx.execute(sql`
        delete from api_keys where organization_id = ${organizationId} and revoked_at is not null and id not in (
          select id from api_keys where organization_id = ${organizationId} and revoked_at is not null
          order by revoked_at desc, id desc limit ${bounds.revoked})`);
      return record(row!);
    });
  }

  async revokeKey(organizationId: string, keyId: string): Promise<{ key: KeyRecord; now: boolean } | "no_organization" | "not_found" | "last_key"> {
    return this.db.transaction(async (tx) => {
      if (!(await lockOrganization(tx, organizationId))) return "no_organization" as const;
      const [row] = await tx.select().from(apiKeys).where(and(eq(apiKeys.id, keyId), eq(apiKeys.organizationId, organizationId)));
      if (!row) return "not_found" as const;
      if (row.revokedAt) return { key: record(row), now: false };
      const [others] = await tx
        .select({ n: count() })
        .from(apiKeys)
        .where(and(eq(apiKeys.organizationId, organizationId), isNull(apiKeys.revokedAt), ne(apiKeys.id, keyId)));
      if (!Number(others?.n ?? 0)) return "last_key" as const;
      const [revoked] = await tx.update(apiKeys).set({ revokedAt: sql`now()` }).where(eq(apiKeys.id, keyId)).returning();
      return { key: record(revoked!), now: true };
    });
  }
}

/** Holds the organization's row until the transaction ends: its key count cannot change meanwhile. */
async function lockOrganization(tx: Tx, organizationId: string): Promise<boolean> {
  const [row] = await tx.select({ id: organizations.id }).from(organizations).where(eq(organizations.id, organizationId)).for("update");
  return Boolean(row);
}

function record(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    organizationId: row.organizationId,
    prefix: row.prefix,
    hash: row.keyHash,
    createdAt: row.createdAt,
    ...(row.name ? { name: row.name } : {}),
    ...(row.revokedAt ? { revokedAt: row.revokedAt } : {}),
  };
}
