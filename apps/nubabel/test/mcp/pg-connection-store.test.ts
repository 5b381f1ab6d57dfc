import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { PgConnectionStore } from "../../src/adapters/postgres/connection-store.js";
import { openPostgres, type Database } from "../../src/db/database.js";
import { openTestPglite } from "../fixtures/pglite.js";
import { organizations } from "../../src/db/schema.js";
import type { StoredConnection } from "../../src/mcp/connection-store.js";
import { Keyring, Rotation, SealedCredentials } from "../../src/crypto/index.js";
import { Catalog } from "../../src/mcp/index.js";
import { Connections } from "../../src/mcp/connections.js";
import { McpConnectionNameTaken } from "../../src/mcp/errors.js";
import { OrganizationNotFound } from "../../src/organizations/errors.js";
import { freshDatabase, infra } from "../fixtures/backends.js";
import { connectionStoreContract, sealedRowsContract } from "./connection-store.contract.js";

/** The Postgres adapter of `ConnectionStore` / `SealedCredentialRows`, on PGlite and on real PostgreSQL. */
const backends: Array<[string, () => Promise<Database>]> = [["pglite", () => openTestPglite()]];
if (infra.databaseUrl) {
  const dropped: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of dropped) await drop();
  });
  backends.push([
    "postgres",
    async () => {
      const fresh = await freshDatabase();
      dropped.push(fresh.drop);
      return openPostgres(fresh.url, 2);
    },
  ]);
}

const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened.splice(0)) await db.close();
});

async function freshStore(open: () => Promise<Database>) {
  const database = await open();
  opened.push(database);
  const store = new PgConnectionStore(database.db);
  // The contract's rows name organizations freely; the table's foreign key needs them to exist.
  const insert = async (row: StoredConnection) => {
    await database.db.insert(organizations).values({ id: row.organizationId, name: row.organizationId }).onConflictDoNothing();
    await store.insert(row);
  };
  return { database, store, insert };
}

for (const [name, open] of backends) {
  connectionStoreContract(name, async () => {
    const { store, insert } = await freshStore(open);
    return { store, insert };
  });

  sealedRowsContract(name, async () => {
    const { store, insert } = await freshStore(open);
    return {
      rows: store,
      insert,
      sealedOf: async (id) => {
        for await (const r of store.listSealed()) if (r.id === id) return r.sealed;
        return undefined;
      },
    };
  });

  describe(`PgConnectionStore management (${name})`, () => {
    const row = (id: string, organizationId: string, extra: Partial<StoredConnection> = {}): StoredConnection => ({
      id,
      organizationId,
      provider: "notion",
      name: id,
      enabled: true,
      sealedCredentials: "k1:AAAA",
      credentialNames: ["NOTION_TOKEN"],
      ...extra,
    });

    it("keeps names unique per organization, not across organizations", async () => {
      const { store, insert } = await freshStore(open);
      await insert(row("conn_1", "org_a", { name: "notion" }));
      await insert(row("conn_2", "org_b", { name: "notion" }));
      await expect(insert(row("conn_3", "org_a", { name: "notion" }))).rejects.toBeInstanceOf(McpConnectionNameTaken);
      await insert(row("conn_4", "org_a", { name: "notion-2" }));
      await expect(store.insert(row("conn_5", "org_missing"))).rejects.toBeInstanceOf(OrganizationNotFound);
      await expect(store.update("org_a", "conn_4", { name: "notion" })).rejects.toBeInstanceOf(McpConnectionNameTaken);
    });

    it("updates and removes only through the owning organization", async () => {
      const { store, insert } = await freshStore(open);
      await insert(row("conn_1", "org_a"));
      expect(await store.update("org_b", "conn_1", { enabled: false })).toBeUndefined();
      expect(await store.remove("org_b", "conn_1")).toBe(false);
      expect((await store.find("org_a", "conn_1"))?.enabled).toBe(true);
      const updated = await store.update("org_a", "conn_1", { enabled: false, sealedCredentials: "k1:BBBB", credentialNames: ["X"] });
      expect(updated).toMatchObject({ enabled: false, sealedCredentials: "k1:BBBB", credentialNames: ["X"] });
      expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(updated!.createdAt.getTime());
      expect(await store.listEnabled("org_a")).toEqual([]);
      expect((await store.listAll("org_a")).map((r) => r.id)).toEqual(["conn_1"]);
      expect(await store.remove("org_a", "conn_1")).toBe(true);
      expect(await store.listAll("org_a")).toEqual([]);
    });

    it("removes an organization's connections with the organization", async () => {
      const { database, store, insert } = await freshStore(open);
      await insert(row("conn_1", "org_gone"));
      await database.db.execute(sql`delete from organizations where id = 'org_gone'`);
      expect(await store.listAll("org_gone")).toEqual([]);
      const listed: string[] = [];
      for await (const r of store.listSealed()) listed.push(r.id);
      expect(listed).toEqual([]);
    });

    it("rotation beside live updates: a row re-sealed meanwhile is skipped, never overwritten with stale credentials", async () => {
      const { database, store } = await freshStore(open);
      await database.db.insert(organizations).values({ id: "org_r", name: "r" });
      const oldKey = `k1:${Keyring.generateKey()}`;
      const newKey = `k2:${Keyring.generateKey()}`;
      const during = Keyring.parse(`${newKey},${oldKey}`);
      const manage = (keyring: Keyring.Keyring) =>
        new Connections({ repository: store, keyring, catalog: Catalog.builtin, allowPrivateUrls: false, drop: async () => undefined });
      const a = await manage(Keyring.parse(oldKey)).create("org_r", { provider: "notion", name: "a", credentials: { NOTION_TOKEN: "ntn_a_original" } });
      const b = await manage(Keyring.parse(oldKey)).create("org_r", { provider: "notion", name: "b", credentials: { NOTION_TOKEN: "ntn_b_original" } });
      // An instance already on the new keyring takes a PATCH for b just before rotation writes b.
      const racing: Rotation.SealedCredentialRows = {
        listSealed: () => store.listSealed(),
        replace: async (id, previous, next) => {
          if (id === b.id) await manage(during).update("org_r", b.id, { credentials: { NOTION_TOKEN: "ntn_b_patched" } });
          return store.replace(id, previous, next);
        },
      };
      expect(await Rotation.rotateAll(during, racing)).toEqual({ rotated: 1, alreadyCurrent: 0, skipped: 1 });
      const onlyNew = Keyring.parse(newKey);
      const opened = async (id: string) => SealedCredentials.open(onlyNew, id, (await store.get("org_r", id))!.sealedCredentials);
      expect(await opened(a.id)).toEqual({ NOTION_TOKEN: "ntn_a_original" });
      expect(await opened(b.id)).toEqual({ NOTION_TOKEN: "ntn_b_patched" });
      expect(await Rotation.rotateAll(during, store)).toEqual({ rotated: 0, alreadyCurrent: 2, skipped: 0 });
    });

    it("lists sealed rows across pages", async () => {
      const { store, insert } = await freshStore(open);
      for (let i = 0; i < 503; i++) await insert(row(`conn_${String(i).padStart(4, "0")}`, "org_many"));
      const listed: string[] = [];
      for await (const r of store.listSealed()) listed.push(r.id);
      expect(listed).toHaveLength(503);
      expect(new Set(listed).size).toBe(503);
    });
  });
}
