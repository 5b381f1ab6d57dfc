import type { CacheChanges } from "../cache/changes.js";
import { Recent } from "../cache/recent.js";
import type { KeyHolder, KeyRecord, OrganizationStore } from "./organizations.js";

/**
 * The name under which instances tell each other of a key revoked: once by its hash (the lookup of
 * API requests) and once as `<organization>/<key id>` (the check of stream tokens made with it).
 */
export const KEY_CACHE = "api-keys";

/** What to announce under `KEY_CACHE` when `key` is revoked. */
export function revokedEntries(key: Pick<KeyRecord, "hash" | "organizationId" | "id">): string[] {
  return [key.hash, keyRef(key.organizationId, key.id)];
}

const keyRef = (organizationId: string, keyId: string) => `${organizationId}/${keyId}`;

/**
 * The store with its key lookups reused for `ttlMs`: every API request authenticates, and a
 * follow-up would otherwise start with a query. Only keys found are kept (an unknown or revoked key
 * is looked up every time). A key revoked through this store is dropped here at once and, told
 * through `changes`, on the other instances; one revoked in the database alone stops working
 * within `ttlMs`. Whether a key is still active (asked by its id, for each open stream) is kept
 * the same way.
 */
export function withKeyCache(store: OrganizationStore, ttlMs: number, changes?: CacheChanges): OrganizationStore {
  const options = { ttlMs, ...(changes ? { changes: { feed: changes, name: KEY_CACHE } } : {}) };
  const keys = new Recent<KeyHolder | undefined>((hash) => store.findByKeyHash(hash), options);
  // Both caches hear every announcement; each holds only its own kind of entry.
  const active = new Recent<boolean>((ref) => {
    const [organizationId = "", keyId = ""] = ref.split("/");
    return store.isKeyActive(organizationId, keyId);
  }, options);
  return {
    create: (org, key) => store.create(org, key),
    list: () => store.list(),
    listKeys: (organizationId) => store.listKeys(organizationId),
    addKey: (organizationId, key, bounds) => store.addKey(organizationId, key, bounds),
    async revokeKey(organizationId, keyId) {
      const revoked = await store.revokeKey(organizationId, keyId);
      // Only a revocation just made is news; one revoked before was dropped everywhere then.
      if (typeof revoked === "object" && revoked.now) {
        // Announced as the CLI announces it: one entry for each cache.
        const [hash, ref] = revokedEntries(revoked.key) as [string, string];
        keys.forget(hash);
        active.forget(ref);
      }
      return revoked;
    },
    async findByKeyHash(hash) {
      const org = await keys.get(hash);
      if (!org) keys.drop(hash);
      return org;
    },
    async isKeyActive(organizationId, keyId) {
      const ref = keyRef(organizationId, keyId);
      const yes = await active.get(ref);
      // As by hash: only a key found active is kept.
      if (!yes) active.drop(ref);
      return yes;
    },
  };
}
