import { beforeEach, describe, expect, it } from "vitest";
import type { ConnectionStore, StoredConnection } from "../../src/mcp/connection-store.js";

/**
 * The promises every `ConnectionStore` keeps, run against each adapter (memory here; the Postgres
 * adapter should call this too). `fresh` returns an empty store and a way to insert rows.
 */
export function connectionStoreContract(
  adapter: string,
  fresh: () => Promise<{ store: ConnectionStore; insert(row: StoredConnection): Promise<void> }>,
): void {
  const row = (id: string, organizationId: string, extra: Partial<StoredConnection> = {}): StoredConnection => ({
    id,
    organizationId,
    provider: "notion",
    name: id,
    enabled: true,
    sealedCredentials: `k1:${Buffer.from(id).toString("base64")}`,
    credentialNames: ["NOTION_TOKEN"],
    ...extra,
  });

  describe(`ConnectionStore contract (${adapter})`, () => {
    let store: ConnectionStore;
    let insert: (row: StoredConnection) => Promise<void>;

    beforeEach(async () => {
      ({ store, insert } = await fresh());
      await insert(row("conn_a1", "org_a"));
      await insert(row("conn_a2", "org_a", { enabled: false }));
      await insert(row("conn_a3", "org_a", { provider: "custom", name: "crm", transport: { type: "http", url: "https://crm.example/mcp" }, credentialNames: [] }));
      await insert(row("conn_b1", "org_b"));
    });

    it("lists only the organization's enabled connections, oldest first", async () => {
      expect((await store.listEnabled("org_a")).map((r) => r.id)).toEqual(["conn_a1", "conn_a3"]);
      expect((await store.listEnabled("org_b")).map((r) => r.id)).toEqual(["conn_b1"]);
      expect(await store.listEnabled("org_none")).toEqual([]);
    });

    it("gets a connection only through its own organization, disabled ones included", async () => {
      expect((await store.get("org_a", "conn_a2"))?.enabled).toBe(false);
      expect(await store.get("org_b", "conn_a1")).toBeUndefined();
      expect(await store.get("org_a", "conn_missing")).toBeUndefined();
    });

    it("returns rows as stored: sealed credentials, names and custom transport", async () => {
      const got = await store.get("org_a", "conn_a3");
      expect(got).toEqual(row("conn_a3", "org_a", { provider: "custom", name: "crm", transport: { type: "http", url: "https://crm.example/mcp" }, credentialNames: [] }));
      expect((await store.get("org_a", "conn_a1"))?.transport).toBeUndefined();
    });
  });
}
