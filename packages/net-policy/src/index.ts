export { classifyAddress } from "./address.js";
export { isAllowed, parseAllowList } from "./allow-list.js";
export { checkUrl, hostOf, type Resolve, type UrlCheck, type UrlPolicyOptions } from "./url-check.js";
export { AddressRefused, createGuardedFetch, type GuardedFetch, type Refusal } from "./guarded-fetch.js";
