import { describe, expect, it } from "vitest";
import { withKeyCache } from "./cached-keys.js";
import type { Organization, OrganizationStore } from "./organizations.js";

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
});
