import { describe, expect, it } from "vitest";
import type { CacheChanges } from "../cache/changes.js";
import { KEY_CACHE, revokedEntries, withKeyCache } from "./cached-keys.js";
import type { KeyHolder, KeyRecord, Organization, OrganizationStore } from "./organizations.js";

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

  it("drops a key revoked through it, by hash and by id, and tells the other instances; a miss tells nobody", async () => {
    const org: KeyHolder = { id: "org_a", name: "A", createdAt: new Date(), keyId: "key_1" };
    const keys = new Map([["hash-a", org]]);
    const checks: string[] = [];
    const key: KeyRecord = { id: "key_1", organizationId: "org_a", prefix: "nbk_abcdef", hash: "hash-a", createdAt: new Date(), revokedAt: new Date() };
    const store = {
      findByKeyHash: async (hash: string) => keys.get(hash),
      isKeyActive: async (organizationId: string, keyId: string) => (checks.push(`${organizationId}/${keyId}`), keys.has("hash-a") && keyId === "key_1"),
      revokeKey: async () => (keys.delete("hash-a"), { key, now: true }),
    } as unknown as OrganizationStore;
    const told: string[] = [];
    const changes: CacheChanges = { announce: (cache, k) => void told.push(`${cache} ${k}`), listen: () => undefined };
    const cached = withKeyCache(store, 60_000, changes);
    expect(await cached.findByKeyHash("hash-a")).toBe(org);
    expect(await cached.findByKeyHash("hash-unknown")).toBeUndefined();
    // An active key's check is kept; an unknown one is asked every time.
    expect(await cached.isKeyActive("org_a", "key_1")).toBe(true);
    expect(await cached.isKeyActive("org_a", "key_1")).toBe(true);
    expect(await cached.isKeyActive("org_a", "key_2")).toBe(false);
    expect(await cached.isKeyActive("org_a", "key_2")).toBe(false);
    expect(checks).toEqual(["org_a/key_1", "org_a/key_2", "org_a/key_2"]);
    expect(told).toEqual([]);
    await cached.revokeKey("org_a", "key_1");
    expect(await cached.findByKeyHash("hash-a")).toBeUndefined();
    expect(await cached.isKeyActive("org_a", "key_1")).toBe(false);
    expect(told).toEqual([`${KEY_CACHE} hash-a`, `${KEY_CACHE} org_a/key_1`]);
    // What the CLI announces for a key it revoked, so that servers drop both.
    expect(revokedEntries(key).map((entry) => `${KEY_CACHE} ${entry}`)).toEqual(told);
  });

  it("drops an entry another instance announced, of either kind", async () => {
    let active = true;
    const store = { isKeyActive: async () => active } as unknown as OrganizationStore;
    const listeners: Array<(key: string) => void> = [];
    const changes: CacheChanges = { announce: () => undefined, listen: (_cache, onChange) => void listeners.push(onChange) };
    const cached = withKeyCache(store, 60_000, changes);
    expect(await cached.isKeyActive("org_a", "key_1")).toBe(true);
    active = false;
    expect(await cached.isKeyActive("org_a", "key_1")).toBe(true);
    for (const listener of listeners) listener("org_a/key_1");
    expect(await cached.isKeyActive("org_a", "key_1")).toBe(false);
  });
});
