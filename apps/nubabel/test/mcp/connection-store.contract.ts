import { beforeEach, describe, expect, it } from "vitest";
import type { SealedCredentialRows } from "../../src/crypto/rotation.js";
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

/**
 * The promises of `SealedCredentialRows` (what `nubabel keys rotate` runs on): every row listed,
 * and `replace` a compare-and-swap. Run it against each adapter that implements the port.
 */
export function sealedRowsContract(
  adapter: string,
  fresh: () => Promise<{ rows: SealedCredentialRows; insert(row: StoredConnection): Promise<void>; sealedOf(id: string): Promise<string | undefined> }>,
): void {
  describe(`SealedCredentialRows contract (${adapter})`, () => {
    const base = (id: string, organizationId: string, sealed: string, enabled = true): StoredConnection => ({
      id,
      organizationId,
      provider: "notion",
      name: id,
      enabled,
      sealedCredentials: sealed,
      credentialNames: ["NOTION_TOKEN"],
    });

    it("lists every connection of every organization, disabled ones too", async () => {
      const { rows, insert } = await fresh();
      await insert(base("conn_x1", "org_x", "k1:AAAA"));
      await insert(base("conn_y1", "org_y", "k1:BBBB", false));
      const listed: Array<{ id: string; organizationId: string; sealed: string }> = [];
      for await (const r of rows.listSealed()) listed.push(r);
      expect(listed.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
        { id: "conn_x1", organizationId: "org_x", sealed: "k1:AAAA" },
        { id: "conn_y1", organizationId: "org_y", sealed: "k1:BBBB" },
      ]);
    });

    it("replaces only when the row still holds the previous blob", async () => {
      const { rows, insert, sealedOf } = await fresh();
      await insert(base("conn_x1", "org_x", "k1:AAAA"));
      expect(await rows.replace("conn_x1", "k1:STALE", "k2:NEW1")).toBe(false);
      expect(await sealedOf("conn_x1")).toBe("k1:AAAA");
      expect(await rows.replace("conn_x1", "k1:AAAA", "k2:NEW2")).toBe(true);
      expect(await sealedOf("conn_x1")).toBe("k2:NEW2");
      expect(await rows.replace("conn_missing", "k1:AAAA", "k2:NEW3")).toBe(false);
    });
  });
}
