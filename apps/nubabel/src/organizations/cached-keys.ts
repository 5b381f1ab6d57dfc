import type { CacheChanges } from "../cache/changes.js";
import { Recent } from "../cache/recent.js";
import type { Organization, OrganizationStore } from "./organizations.js";

/** The name under which instances tell each other of a key revoked (`<cache> <key hash>`). */
export const KEY_CACHE = "api-keys";

/**
 * The store with its key lookups reused for `ttlMs`: every API request authenticates, and a
 * follow-up would otherwise start with a query. Only keys found are kept (an unknown or revoked key
 * is looked up every time). A key revoked through this store is dropped here at once and, told
 * through `changes`, on the other instances; one revoked in the database alone stops working
 * within `ttlMs`.
 */
export function withKeyCache(store: OrganizationStore, ttlMs: number, changes?: CacheChanges): OrganizationStore {
  const keys = new Recent<Organization | undefined>((hash) => store.findByKeyHash(hash), { ttlMs, ...(changes ? { changes: { feed: changes, name: KEY_CACHE } } : {}) });
  return {
    create: (org, key) => store.create(org, key),
    list: () => store.list(),
    listKeys: (organizationId) => store.listKeys(organizationId),
    addKey: (organizationId, key, bounds) => store.addKey(organizationId, key, bounds),
    async revokeKey(organizationId, keyId) {
      const revoked = await store.revokeKey(organizationId, keyId);
      // Only a revocation just made is news; one revoked before was dropped everywhere then.
      if (typeof revoked === "object" && revoked.now) keys.forget(revoked.key.hash);
      return revoked;
    },
    async findByKeyHash(hash) {
      const org = await keys.get(hash);
      if (!org) keys.drop(hash);
      return org;
    },
  };
}
