import { Recent } from "../cache/recent.js";
import type { Organization, OrganizationStore } from "./organizations.js";

/**
 * The store with its key lookups reused for `ttlMs`: every API request authenticates, and a
 * follow-up would otherwise start with a query. Only keys found are kept (an unknown or revoked key
 * is looked up every time), so a key revoked in the database stops working within `ttlMs`.
 */
export function withKeyCache(store: OrganizationStore, ttlMs: number): OrganizationStore {
  const keys = new Recent<Organization | undefined>((hash) => store.findByKeyHash(hash), { ttlMs });
  return {
    create: (org, key) => store.create(org, key),
    list: () => store.list(),
    async findByKeyHash(hash) {
      const org = await keys.get(hash);
      if (!org) keys.forget(hash);
      return org;
    },
  };
}
