export * as Organizations from "./organizations.js";
export type { KeyHolder, Organization, OrganizationStore } from "./organizations.js";
export { KEY_CACHE, revokedEntries, withKeyCache } from "./cached-keys.js";
export { ApiKeys } from "./api-keys.js";
