import { describe, expect, it } from "vitest";
import type { CacheChanges } from "../cache/changes.js";
import { KEY_CACHE, withKeyCache } from "./cached-keys.js";
import type { KeyRecord, Organization, OrganizationStore } from "./organizations.js";

describe("withKeyCache", () => {
  it("reuses a found key for ttlMs and looks an unknown one up every time", async () => {
    const org: Organization = { id: "org_a", name: "A", createdAt: new Date() };
    const keys = new Map([["hash-a", org]]);
    const lookups: string[] = [];
    const store = {
      findByKeyHash: async (hash: string) => (lookups.push(hash), keys.get(hash)),
    } as unknown as OrganizationStore;
    const cached = withKeyCache(store, 60_000);
    expect(await cached.findByKeyHash("hash-a")).toBe(org);
    expect(await cached.findByKeyHash("hash-a")).toBe(org);
    expect(await cached.findByKeyHash("hash-x")).toBeUndefined();
    // A key created after a miss is found at once.
    keys.set("hash-x", org);
    expect(await cached.findByKeyHash("hash-x")).toBe(org);
    expect(lookups).toEqual(["hash-a", "hash-x", "hash-x"]);
  });

  it("drops a key revoked through it and tells the other instances; a miss tells nobody", async () => {
    const org: Organization = { id: "org_a", name: "A", createdAt: new Date() };
    const keys = new Map([["hash-a", org]]);
    const key: KeyRecord = { id: "key_1", organizationId: "org_a", prefix: "nbk_abcdef", hash: "hash-a", createdAt: new Date(), revokedAt: new Date() };
    const store = {
      findByKeyHash: async (hash: string) => keys.get(hash),
      revokeKey: async () => (keys.delete("hash-a"), { key, now: true }),
    } as unknown as OrganizationStore;
    const told: string[] = [];
    const changes: CacheChanges = { announce: (cache, k) => void told.push(`${cache} ${k}`), listen: () => undefined };
    const cached = withKeyCache(store, 60_000, changes);
    expect(await cached.findByKeyHash("hash-a")).toBe(org);
    expect(await cached.findByKeyHash("hash-unknown")).toBeUndefined();
    expect(told).toEqual([]);
    await cached.revokeKey("org_a", "key_1");
    expect(await cached.findByKeyHash("hash-a")).toBeUndefined();
    expect(told).toEqual([`${KEY_CACHE} hash-a`]);
  });
});
