import { NubabelError } from "../errors.js";

/** No such approval on this run of this organization (also for another organization's). */
export class ApprovalNotFound extends NubabelError<{ approvalId: string }> {
  override readonly name = "ApprovalNotFound";
  constructor(approvalId: string) {
    super(`approval ${approvalId} not found`, { approvalId });
  }
}

/** The approval was already decided (or expired): a second decision changes nothing. */
export class ApprovalAlreadyDecided extends NubabelError<{ approvalId: string; status: string; decidedBy?: string }> {
  override readonly name = "ApprovalAlreadyDecided";
  constructor(approvalId: string, status: string, decidedBy?: string) {
    super(`approval ${approvalId} is already ${status}${decidedBy ? ` (by ${decidedBy})` : ""}`, { approvalId, status, ...(decidedBy ? { decidedBy } : {}) });
  }
}

/** The person is not among the approvers the policy names for this call. */
export class NotAnApprover extends NubabelError<{ approvalId: string }> {
  override readonly name = "NotAnApprover";
  constructor(approvalId: string, who: string) {
    super(`${who} may not decide approval ${approvalId}`, { approvalId });
  }
}
