export { Approvals, toApiApproval, type ApprovalsDeps } from "./approvals.js";
export { ApprovalAlreadyDecided, ApprovalNotFound, NotAnApprover } from "./errors.js";
export type { ApprovalDecider, ApprovalNotice, ApprovalStore, Decider, StoredApproval } from "./ports.js";
export { requirements, ruleFor, toApiPolicy } from "./policy.js";
