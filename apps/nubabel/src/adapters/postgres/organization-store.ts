import { and, count, eq, isNull } from "drizzle-orm";
import type { Db } from "../../db/database.js";
import { apiKeys, organizations } from "../../db/schema.js";
import type { Organization, OrganizationStore, StoredKey } from "../../organizations/organizations.js";

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

  async findByKeyHash(hash: string): Promise<Organization | undefined> {
    const [row] = await this.db
      .select({ id: organizations.id, name: organizations.name, createdAt: organizations.createdAt })
      .from(apiKeys)
      .innerJoin(organizations, eq(organizations.id, apiKeys.organizationId))
      .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)))
      .limit(1);
    return row;
  }
}
