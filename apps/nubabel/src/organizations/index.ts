export * as Organizations from "./organizations.js";
export type { Organization, OrganizationStore } from "./organizations.js";
export { KEY_CACHE, withKeyCache } from "./cached-keys.js";
export { ApiKeys } from "./api-keys.js";
