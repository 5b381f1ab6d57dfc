import type { Approval, ApprovalDecision, ApprovalPolicy, ApiPolicy, Approvers } from "@nubabel/contracts";

/** Who decides: the organization's API key, a person in Slack, or the clock. */
export type Decider = { kind: "api" } | { kind: "slack"; teamId: string; userId: string } | { kind: "timeout" };

/** An approval as stored: the API's shape plus what only Nubabel needs. */
export interface StoredApproval extends Approval {
  organizationId: string;
  requestId: string;
  /** The engine's id of the tool call, when the sidecar said it. */
  callId: string | null;
  approvers: Approvers;
  repliedAt: string | null;
  slack: { channel: string; ts: string } | null;
}

/** What happened to an approval, for whoever shows it (Slack, webhooks). */
export type ApprovalNotice = { type: "requested" | "resolved"; approval: StoredApproval };

/**
 * Where approvals and policies are kept (PostgreSQL, or PGlite for `npm start`). `decide` is one
 * conditional update from `pending`, so of two racing decisions exactly one returns the row.
 */
export interface ApprovalStore {
  policy(organizationId: string): Promise<{ policy: ApprovalPolicy; version: number; updatedAt: Date | null }>;
  /** Adds the next version and returns it. */
  setPolicy(organizationId: string, policy: ApprovalPolicy): Promise<{ policy: ApprovalPolicy; version: number; updatedAt: Date }>;
  /** Inserts, or returns the approval already made for `(runId, requestId)`; `created` says which. */
  create(row: Omit<StoredApproval, "status" | "repliedAt" | "slack" | "decidedBy" | "decidedAt" | "reason">): Promise<{ approval: StoredApproval; created: boolean }>;
  get(organizationId: string, approvalId: string): Promise<StoredApproval | undefined>;
  listForRun(organizationId: string, runId: string): Promise<StoredApproval[]>;
  /** The approvals asked for one tool call of a session (normally one). */
  forCall(organizationId: string, sessionId: string, callId: string): Promise<StoredApproval[]>;
  /** Pending approvals of these runs (the API's `waiting_approval`). */
  pendingRuns(organizationId: string, runIds: string[]): Promise<Set<string>>;
  /** `pending` → `status`; undefined when it was no longer pending. */
  decide(organizationId: string, approvalId: string, to: { status: "approved" | "denied" | "expired"; decidedBy: string; reason: string }): Promise<StoredApproval | undefined>;
  /** Pending approvals past their `expiresAt`, any organization. */
  expired(now: Date, limit: number): Promise<StoredApproval[]>;
  /** Decided approvals whose answer has not reached the sidecar yet (sent again after a restart). */
  unreplied(limit: number): Promise<StoredApproval[]>;
  markReplied(approvalId: string): Promise<void>;
  setSlackMessage(approvalId: string, channel: string, ts: string): Promise<void>;
  /**
   * Pending approvals of runs from Slack that have no Slack message, requested before
   * `requestedBefore`, unclaimed or claimed before `claimedBefore`, and not in `except`; oldest first.
   */
  unpostedSlack(input: { requestedBefore: Date; claimedBefore: Date; except: string[]; limit: number }): Promise<StoredApproval[]>;
  /**
   * Claims posting the approval's Slack message: true for exactly one of racing callers (on any
   * instance), while it is pending, has no message, and is unclaimed or claimed before `claimedBefore`.
   */
  claimSlack(approvalId: string, claimedBefore: Date): Promise<boolean>;
  /** Drops the claim of an approval whose message was not posted, so it is claimed again. */
  releaseSlack(approvalId: string): Promise<void>;
}

/** The decision part of the domain the HTTP routes and the Slack bot share. */
export interface ApprovalDecider {
  /**
   * Decides a pending approval: `ApprovalNotFound` (404, also another organization's),
   * `ApprovalAlreadyDecided` (409), `NotAnApprover` (403) when a Slack user is not among the
   * approvers. The decision reaches the engine before this returns when the sidecar answers.
   */
  decide(organizationId: string, runId: string, approvalId: string, decision: ApprovalDecision, by: Decider): Promise<Approval>;
  /** Called for every approval requested or resolved on this instance. */
  subscribe(listener: (notice: ApprovalNotice) => void | Promise<void>): void;
  /** Remembers the Slack message carrying the approval's buttons, to update it once decided. */
  setSlackMessage(approvalId: string, channel: string, ts: string): Promise<void>;
  /**
   * Pending approvals of runs from Slack whose message was never posted (the instance that heard
   * the ask restarted, or Slack refused the post), requested before `requestedBefore`, and not being
   * posted by anyone (a claim left by an instance that died counts as none after a few minutes).
   * `except`: those this instance is posting now. Oldest first, at most `limit`.
   */
  unpostedSlackMessages(requestedBefore: Date, except: string[], limit: number): Promise<StoredApproval[]>;
  /**
   * Takes on posting the approval's Slack message: true for one caller across instances, until the
   * message is recorded, the claim released, or the claim is a few minutes old (its poster died).
   * False once it is decided or has a message.
   */
  claimSlackMessage(approvalId: string): Promise<boolean>;
  /** Gives a claim up after a failed post, so the next round of recovery posts the message. */
  releaseSlackMessage(approvalId: string): Promise<void>;
}

export type { ApiPolicy };
