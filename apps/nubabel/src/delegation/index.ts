export { Delegation, type DelegateInput, type DelegationDeps } from "./delegate-task.js";
export { DelegationBusy, OpencodeSessionLost } from "./errors.js";
export type { Lock } from "./lock.js";
