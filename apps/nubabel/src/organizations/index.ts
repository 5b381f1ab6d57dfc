export * as Organizations from "./organizations.js";
export type { Organization, OrganizationStore } from "./organizations.js";
export { withKeyCache } from "./cached-keys.js";
