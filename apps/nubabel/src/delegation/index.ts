export { Delegation, type DelegateInput, type DelegationDeps } from "./delegate-task.js";
export { DelegationBusy } from "./errors.js";
export type { Lock } from "./lock.js";
