import {
  type ApiPolicy,
  type Approval,
  type ApprovalDecision,
  type ApprovalPolicy,
  type ApprovalRequirements,
  Ids,
  isFinished,
  type ProgressEvent,
} from "@nubabel/contracts";
import type { AuditLog } from "../audit/ports.js";
import type { CacheChanges } from "../cache/changes.js";
import { Recent } from "../cache/recent.js";
import type { Logger } from "../log/logger.js";
import { streamOf, type ProgressLog } from "../progress/progress-log.js";
import type { Run } from "../runs/run.js";
import type { SidecarClient } from "../sidecar/client.js";
import { ApprovalAlreadyDecided, ApprovalNotFound, NotAnApprover } from "./errors.js";
import { describePolicy, requirements, ruleFor, toApiPolicy, type NamedConnection } from "./policy.js";
import type { ApprovalDecider, ApprovalNotice, ApprovalStore, Decider, StoredApproval } from "./ports.js";

export interface ApprovalsDeps {
  store: ApprovalStore;
  /** A run of the organization, or undefined when it has none by that id. */
  run(organizationId: string, runId: string): Promise<Run | undefined>;
  /** The organization's enabled MCP connections (to widen `provider/tool` rules to every name). */
  connections(organizationId: string): Promise<NamedConnection[]>;
  /** The organization a Slack workspace is linked to (for `approvers: "workspace"`). */
  organizationOfTeam(teamId: string): Promise<string | undefined>;
  sidecar: Pick<SidecarClient, "replyPermission">;
  progress: ProgressLog;
  audit?: AuditLog;
  /** How long a policy read is reused for dispatch (`SETTINGS_CACHE_MS`; a `PUT` here applies at once). */
  cacheMs?: number;
  /** Where a policy change made here is announced to the other instances (and theirs heard). */
  changes?: CacheChanges;
  log: Logger;
}

type PermissionAskedEvent = Extract<ProgressEvent, { type: "permission_asked" }>;

/** The API's view of a stored approval. */
export function toApiApproval(a: StoredApproval): Approval {
  return {
    id: a.id,
    runId: a.runId,
    sessionId: a.sessionId,
    tool: a.tool,
    ...(a.provider ? { provider: a.provider } : {}),
    arguments: a.arguments,
    status: a.status,
    requestedAt: a.requestedAt,
    expiresAt: a.expiresAt,
    ...(a.decidedBy ? { decidedBy: a.decidedBy } : {}),
    ...(a.decidedAt ? { decidedAt: a.decidedAt } : {}),
    ...(a.reason ? { reason: a.reason } : {}),
  };
}

/**
 * A claim to post a Slack message older than this is taken to belong to an instance that died
 * mid-post. Longer than the WebClient's own retries of one post normally last (rate limits
 * included), so a slow post is not doubled by a second poster.
 */
const SLACK_CLAIM_STALE_MS = 2 * 60_000;
const staleClaim = () => new Date(Date.now() - SLACK_CLAIM_STALE_MS);

const nameOf = (by: Decider): string => (by.kind === "slack" ? `slack:${by.userId}` : by.kind);

/** What the agent reads when a call is not approved. */
function refusal(a: StoredApproval): string {
  if (a.status === "expired") return `denied: nobody answered (${a.reason ?? "the approval expired"})`;
  const who = a.decidedBy?.startsWith("slack:") ? `<@${a.decidedBy.slice(6)}> in Slack` : "the organization, through the API";
  return `denied by ${who}${a.reason ? `: ${a.reason}` : " (no reason given)"}`;
}

/**
 * Approvals of tool calls: the organization's policy, the approvals its runs ask for, and their
 * decisions. A tool call waits in the engine (the sidecar holds the engine's permission ask);
 * Nubabel stores the approval, so it survives a restart here, and gives the engine the answer
 * once someone decides or the approval expires.
 */
export class Approvals implements ApprovalDecider {
  private readonly listeners: Array<(notice: ApprovalNotice) => void | Promise<void>> = [];
  private readonly policies: Recent<ApiPolicy>;
  private readonly log: Logger;
  private sweeping = false;

  constructor(private readonly deps: ApprovalsDeps) {
    this.log = deps.log.child({ module: "approvals" });
    this.policies = new Recent(async (organizationId) => toApiPolicy(await deps.store.policy(organizationId)), {
      ttlMs: deps.cacheMs ?? 5_000,
      ...(deps.changes ? { changes: { feed: deps.changes, name: "approval-policy" } } : {}),
    });
  }

  policy(organizationId: string): Promise<ApiPolicy> {
    return this.policies.get(organizationId);
  }

  /** Only an API key sets a policy: the audit entry's actor is `api`. */
  async setPolicy(organizationId: string, policy: ApprovalPolicy): Promise<ApiPolicy> {
    const saved = toApiPolicy(await this.deps.store.setPolicy(organizationId, policy));
    this.policies.set(organizationId, saved);
    await this.deps.audit?.record({ organizationId, kind: "policy", actor: "api", action: "update", status: "ok", detail: describePolicy(saved) });
    return saved;
  }

  /** What the sidecar must ask about for the organization's next run; undefined when nothing. */
  async requirements(organizationId: string): Promise<ApprovalRequirements | undefined> {
    const policy = await this.policy(organizationId);
    if (policy.approvals.length === 0) return undefined;
    const mcp = policy.approvals.some((rule) => rule.match.includes("/"));
    return requirements(policy, mcp ? await this.deps.connections(organizationId) : []);
  }

  /**
   * Turns the sidecar's ask into a stored approval and the `approval_requested` event to stream.
   * The sidecar may deliver the same ask twice: it makes one approval (announced once).
   */
  async request(organizationId: string, sessionId: string, event: PermissionAskedEvent): Promise<ProgressEvent | undefined> {
    const run = event.runId ? await this.deps.run(organizationId, event.runId) : undefined;
    if (!run || run.sessionId !== sessionId || isFinished(run.status)) {
      this.log.warn({ organizationId, sessionId, runId: event.runId }, "permission ask for an unknown or finished run; dropped");
      return undefined;
    }
    const policy = await this.policy(organizationId);
    const ask = event.data;
    const connection = ask.provider ? await this.connectionNamed(organizationId, ask.provider) : undefined;
    // A run asks by the rules it started with; one since removed from the policy still has a person decide.
    const rule = ruleFor(policy, { tool: ask.tool, ...(ask.provider ? { provider: ask.provider } : {}), ...(connection ? { connection } : {}) });
    const now = new Date();
    const { approval, created } = await this.deps.store.create({
      id: Ids.create(Ids.Prefix.approval),
      organizationId,
      runId: run.id,
      sessionId,
      requestId: ask.requestId,
      callId: ask.callId ?? null,
      tool: ask.tool,
      ...(ask.provider ? { provider: ask.provider } : {}),
      arguments: ask.arguments as Record<string, unknown>,
      approvers: rule?.approvers ?? "requester",
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + policy.timeoutSeconds * 1000).toISOString(),
    });
    // A redelivered ask was streamed the first time: once is enough.
    if (!created) return undefined;
    this.log.info({ organizationId, runId: run.id, approvalId: approval.id, tool: approval.tool, provider: approval.provider }, "approval requested");
    this.announce({ type: "requested", approval });
    return { type: "approval_requested", data: toApiApproval(approval), timestamp: event.timestamp, runId: run.id, ...(event.seq !== undefined ? { seq: event.seq } : {}) };
  }

  async decide(organizationId: string, runId: string, approvalId: string, decision: ApprovalDecision, by: Decider): Promise<Approval> {
    const approval = await this.deps.store.get(organizationId, approvalId);
    if (!approval || approval.runId !== runId) throw new ApprovalNotFound(approvalId);
    if (approval.status !== "pending") throw new ApprovalAlreadyDecided(approvalId, approval.status, approval.decidedBy);
    if (by.kind === "slack" && !(await this.mayDecide(approval, organizationId, by))) throw new NotAnApprover(approvalId, `<@${by.userId}>`);
    const to = decision.decision === "approve" ? "approved" : "denied";
    const decided = await this.deps.store.decide(organizationId, approvalId, { status: to, decidedBy: nameOf(by), reason: decision.reason ?? "" });
    if (!decided) {
      const now = await this.deps.store.get(organizationId, approvalId);
      throw new ApprovalAlreadyDecided(approvalId, now?.status ?? "decided", now?.decidedBy);
    }
    await this.resolved(decided);
    return toApiApproval(decided);
  }

  /**
   * Whether Nubabel's MCP gateway may run this call of the session's agent: yes when the policy in
   * force does not cover it, else only if a person approved this very call. The sidecar asks first;
   * this holds even when it did not (a connection added mid-run, a policy tightened, a forged call).
   * Returns why not, or undefined.
   */
  async refusal(organizationId: string, sessionId: string, call: { provider: string; toolName: string; callId?: string }): Promise<string | undefined> {
    const policy = await this.policy(organizationId);
    if (policy.approvals.length === 0) return undefined;
    const connection = await this.connectionNamed(organizationId, call.provider);
    if (!ruleFor(policy, { tool: call.toolName, provider: call.provider, ...(connection ? { connection } : {}) })) return undefined;
    const asked = call.callId ? await this.deps.store.forCall(organizationId, sessionId, call.callId) : [];
    const approved = asked.some((a) => a.status === "approved" && a.tool.toLowerCase() === call.toolName.toLowerCase());
    if (approved) return undefined;
    const why = asked[0] ? refusal(asked[0]) : "it needs a person's approval and none was asked for this call (the policy or the connection changed during this run; ask again in a new message)";
    this.log.warn({ organizationId, sessionId, provider: call.provider, tool: call.toolName, callId: call.callId }, "MCP call refused: not approved");
    return `${call.provider}/${call.toolName} was not run: ${asked[0]?.status === "pending" ? "its approval is still pending" : why}`;
  }

  /** The run's approvals, oldest first. */
  async forRun(organizationId: string, runId: string): Promise<Approval[]> {
    return (await this.deps.store.listForRun(organizationId, runId)).map(toApiApproval);
  }

  /** Which of these runs wait for a person now. */
  waiting(organizationId: string, runIds: string[]): Promise<Set<string>> {
    return this.deps.store.pendingRuns(organizationId, runIds);
  }

  subscribe(listener: (notice: ApprovalNotice) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  setSlackMessage(approvalId: string, channel: string, ts: string): Promise<void> {
    return this.deps.store.setSlackMessage(approvalId, channel, ts);
  }

  unpostedSlackMessages(requestedBefore: Date, except: string[], limit: number): Promise<StoredApproval[]> {
    return this.deps.store.unpostedSlack({ requestedBefore, claimedBefore: staleClaim(), except, limit });
  }

  claimSlackMessage(approvalId: string): Promise<boolean> {
    return this.deps.store.claimSlack(approvalId, staleClaim());
  }

  releaseSlackMessage(approvalId: string): Promise<void> {
    return this.deps.store.releaseSlack(approvalId);
  }

  /**
   * Expires approvals past their time and sends decisions that have not reached their sidecar yet
   * (it was unreachable, or this instance restarted in between). Run periodically by `main.ts`;
   * safe on several instances at once (a decision is one conditional update; a second reply is
   * answered `replied: false`).
   */
  async sweep(now = new Date()): Promise<void> {
    // An interval may fire while the last sweep still waits on a slow sidecar: one at a time.
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      await this.sweepOnce(now);
    } finally {
      this.sweeping = false;
    }
  }

  private async sweepOnce(now: Date): Promise<void> {
    for (const approval of await this.deps.store.expired(now, 100)) {
      const seconds = Math.round((Date.parse(approval.expiresAt) - Date.parse(approval.requestedAt)) / 1000);
      const expired = await this.deps.store.decide(approval.organizationId, approval.id, {
        status: "expired",
        decidedBy: "timeout",
        reason: `nobody answered within ${seconds} seconds`,
      });
      if (expired) await this.resolved(expired);
    }
    for (const approval of await this.deps.store.unreplied(100)) await this.reply(approval);
  }

  /**
   * Closes what a run that ended (aborted, failed, timed out) left pending: nobody can decide it
   * any more, and its Slack buttons go. Safe to call more than once.
   */
  async closeRun(run: Pick<Run, "id" | "organizationId" | "status">): Promise<void> {
    // Most organizations ask for nothing: no query per run for them (an approval left by a policy
    // emptied meanwhile still expires on time).
    if ((await this.policy(run.organizationId)).approvals.length === 0) return;
    for (const approval of await this.deps.store.listForRun(run.organizationId, run.id)) {
      if (approval.status !== "pending") continue;
      const closed = await this.deps.store.decide(run.organizationId, approval.id, { status: "expired", decidedBy: "run", reason: `the run ended (${run.status}) before anyone decided` });
      if (closed) await this.resolved(closed);
    }
  }

  private async resolved(approval: StoredApproval): Promise<void> {
    this.log.info({ organizationId: approval.organizationId, runId: approval.runId, approvalId: approval.id, status: approval.status, decidedBy: approval.decidedBy }, "approval decided");
    await this.deps.audit?.record({
        organizationId: approval.organizationId,
        kind: "approval",
        actor: approval.decidedBy ?? "timeout",
        action: approval.status === "approved" ? "approve" : approval.status === "denied" ? "deny" : "expire",
        sessionId: approval.sessionId,
        runId: approval.runId,
        tool: approval.tool,
        ...(approval.provider ? { provider: approval.provider } : {}),
        decision: approval.status,
        status: approval.status,
        durationMs: Math.max(0, Date.parse(approval.decidedAt ?? new Date().toISOString()) - Date.parse(approval.requestedAt)),
        ...(approval.reason ? { detail: approval.reason.slice(0, 500) } : {}),
      });
    // Streamed before the engine hears it, so the tool's own events follow the decision.
    try {
      const event: ProgressEvent = { type: "approval_resolved", data: toApiApproval(approval), timestamp: new Date().toISOString(), runId: approval.runId };
      await this.deps.progress.append(streamOf(approval.organizationId, approval.sessionId), event);
    } catch (err) {
      this.log.warn({ approvalId: approval.id, err: (err as Error).message }, "could not stream the decision");
    }
    await this.reply(approval);
    this.announce({ type: "resolved", approval });
    if (approval.status !== "approved") await this.dropSiblings(approval);
  }

  /**
   * The engine refuses every call of a session still waiting when one is refused: their approvals
   * can no longer let anything run, so they are closed too rather than left to be "approved".
   */
  private async dropSiblings(refused: StoredApproval): Promise<void> {
    for (const other of await this.deps.store.listForRun(refused.organizationId, refused.runId)) {
      if (other.status !== "pending" || other.id === refused.id) continue;
      const closed = await this.deps.store.decide(refused.organizationId, other.id, {
        status: "expired",
        decidedBy: "run",
        reason: `refused with ${refused.provider ? `${refused.provider}/` : ""}${refused.tool}: the engine refuses every waiting call of a run at once`,
      });
      if (closed) await this.resolved(closed);
    }
  }

  /** Gives the engine the decision; left for the next sweep when the sidecar cannot be reached. */
  private async reply(approval: StoredApproval): Promise<void> {
    try {
      const run = await this.deps.run(approval.organizationId, approval.runId);
      if (run && !isFinished(run.status)) {
        // The ask can arrive before the dispatch recorded where the run is: the next sweep sends it.
        if (!run.sidecarUrl) return;
        const answer = approval.status === "approved" ? { reply: "once" as const } : { reply: "reject" as const, message: refusal(approval) };
        const { replied } = await this.deps.sidecar.replyPermission(run.sidecarUrl, run.id, approval.requestId, answer, this.log);
        if (!replied) this.log.info({ approvalId: approval.id, runId: run.id }, "the engine no longer waited on this approval");
      }
      await this.deps.store.markReplied(approval.id);
    } catch (err) {
      this.log.warn({ approvalId: approval.id, err: (err as Error).message }, "could not give the sidecar the decision; will retry");
    }
  }

  private async mayDecide(approval: StoredApproval, organizationId: string, by: { teamId: string; userId: string }): Promise<boolean> {
    if ((await this.deps.organizationOfTeam(by.teamId)) !== organizationId) return false;
    const approvers = approval.approvers;
    if (approvers === "workspace") return true;
    if (Array.isArray(approvers)) return approvers.includes(by.userId);
    const run = await this.deps.run(organizationId, approval.runId);
    const requester = run?.origin.kind === "slack" ? run.origin.userId : run?.userId;
    return requester === by.userId;
  }

  private async connectionNamed(organizationId: string, name: string): Promise<NamedConnection | undefined> {
    const all = await this.deps.connections(organizationId);
    return all.find((c) => c.name === name) ?? all.find((c) => c.provider === name);
  }

  private announce(notice: ApprovalNotice): void {
    for (const listener of this.listeners) {
      void Promise.resolve()
        .then(() => listener(notice))
        .catch((err: unknown) => this.log.warn({ approvalId: notice.approval.id, err: (err as Error).message }, "approval listener failed"));
    }
  }
}
