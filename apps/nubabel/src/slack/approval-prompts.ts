import { Periodic, Waits } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import { requestedMessage, resolvedMessage, type ApprovalButton } from "./approval-view.js";
import type { ApprovalDecider, ApprovalNotice, NubabelPort, SlackLinks, StoredApproval } from "./ports.js";
import { Replies } from "./replies.js";
import type { SlackApi } from "./web-api.js";

export interface ApprovalPromptsDeps {
  decider: ApprovalDecider;
  nubabel: NubabelPort;
  links: SlackLinks;
  api: SlackApi;
  /** Resolves once the bot is started (Slack calls wait for it); rejects when it could not start. */
  ready: () => Promise<void>;
  logger: Logger;
  /**
   * Messages that were never posted (the instance that heard the ask restarted, or Slack refused
   * the post) are looked for every `intervalMs` (default 30 s) among approvals requested more than
   * `graceMs` ago (default 20 s: the normal path has had its chance).
   */
  recovery?: { intervalMs?: number; graceMs?: number };
}

/** A press of Approve or Deny, its fields checked at the boundary. */
export interface ApprovalPress {
  teamId: string;
  userId: string;
  channelId: string;
  /** The thread the approval message is in, for the ephemeral reply. */
  threadTs?: string;
  decision: "approve" | "deny";
  button: ApprovalButton;
}

type Where = { channel: string; ts: string };

/**
 * Approvals in Slack threads: a requested approval of a run that came from Slack gets a message
 * with Approve / Deny buttons in that run's thread; once resolved (in Slack, through the API, or
 * by the clock) the message says who decided and when, and loses its buttons. A press decides
 * through the approvals domain, which alone says who may.
 */
export class ApprovalPrompts {
  /** Approval messages being posted, so a decision that lands meanwhile still finds its message. */
  private readonly posting = new Map<string, Promise<Where | undefined>>();
  private readonly inflight = new Set<Promise<void>>();
  private closed = false;
  private recovering = false;
  private recovery: Periodic.Periodic | undefined;
  private readonly log: Logger;

  constructor(private readonly deps: ApprovalPromptsDeps) {
    this.log = deps.logger.child({ module: "slack", component: "approvals" });
  }

  /**
   * Listens to the domain's notices (returning at once for each, so Slack never holds a decision
   * up), and posts the messages a restart or a failed post left unposted: now, then periodically.
   */
  subscribe(): void {
    this.deps.decider.subscribe((notice) => this.notice(notice));
    const intervalMs = this.deps.recovery?.intervalMs ?? 30_000;
    this.recovery = Periodic.every({ everyMs: intervalMs, firstAfterMs: 0 }, () => this.recover());
  }

  /**
   * One round of recovery: posts the message of each pending approval of a Slack run that has
   * none, was asked more than the grace ago, and nobody (here or elsewhere) is posting. Safe on
   * several instances at once: each message is claimed before it is posted.
   */
  async recover(): Promise<void> {
    // A round may outlast the interval while Slack is slow: one at a time.
    if (this.closed || this.recovering) return;
    this.recovering = true;
    try {
      const before = new Date(Date.now() - (this.deps.recovery?.graceMs ?? 20_000));
      const missing = await this.deps.decider.unpostedSlackMessages(before, [...this.posting.keys()], 50);
      for (const approval of missing) {
        if (this.closed) return;
        if (this.posting.has(approval.id)) continue;
        await this.post(approval, "recovery").catch((err: Error) =>
          this.log.warn({ approvalId: approval.id, runId: approval.runId, err: err.message }, "could not post the approval's message; will retry"),
        );
      }
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not look for unposted approval messages");
    } finally {
      this.recovering = false;
    }
  }

  notice(notice: ApprovalNotice): void {
    if (this.closed) return;
    const { approval } = notice;
    const work = (notice.type === "requested" ? this.post(approval, "notice").then(() => undefined) : this.resolve(approval)).catch((err: Error) =>
      this.log.warn({ approvalId: approval.id, runId: approval.runId, type: notice.type, err: err.message }, "could not show the approval in Slack"),
    );
    this.track(work);
  }

  /** A person pressed Approve or Deny; every outcome but success is told to them alone. */
  async press(press: ApprovalPress): Promise<void> {
    const { teamId, userId, button } = press;
    const log = this.log.child({ approvalId: button.approvalId, runId: button.runId, teamId, userId });
    const tell = (text: string) =>
      this.deps.api.ephemeral(press.channelId, userId, text, press.threadTs).catch((err: Error) => log.warn({ err: err.message }, "could not answer the press"));
    const organizationId = await this.deps.links.organizationFor(teamId);
    if (!organizationId) {
      log.info("approval press from an unlinked workspace");
      return tell(Replies.unlinked(teamId));
    }
    try {
      await this.deps.decider.decide(organizationId, button.runId, button.approvalId, { decision: press.decision }, { kind: "slack", teamId, userId });
      log.info({ decision: press.decision }, "approval decided in Slack");
    } catch (err) {
      // Keyed on names, as for the runs' errors: this module imports none of the core.
      switch ((err as Error).name) {
        case "NotAnApprover":
          return tell(Replies.notYours(button.approvers));
        case "ApprovalAlreadyDecided":
          return tell(Replies.alreadyDecided);
        case "ApprovalNotFound":
          return tell(Replies.approvalGone);
        default:
          log.error({ err: (err as Error).message }, "approval decision failed");
          return tell(Replies.decisionFailed);
      }
    }
  }

  /** Stops handling notices and waits (up to `timeoutMs`) for the Slack writes under way. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    await Promise.all([this.recovery?.stop(timeoutMs), Waits.within(Promise.allSettled([...this.inflight]), timeoutMs)]);
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  /** Posts the approval's message unless another instance is posting it (or posted it already). */
  private post(approval: StoredApproval, via: "notice" | "recovery"): Promise<Where | undefined> {
    const posting = (async (): Promise<Where | undefined> => {
      const run = await this.deps.nubabel.run(approval.organizationId, approval.runId);
      // A run asked through the API has no thread; its caller decides through the API.
      if (run.origin.kind !== "slack") return undefined;
      const { channelId, threadTs, userId } = run.origin;
      if (!(await this.deps.decider.claimSlackMessage(approval.id))) return undefined;
      let ts: string;
      try {
        await this.deps.ready();
        const message = requestedMessage(approval, userId);
        ts = await this.deps.api.post(channelId, threadTs, message.text, message.blocks);
      } catch (err) {
        // Not posted: the next round of recovery (here or on another instance) tries again.
        await this.deps.decider.releaseSlackMessage(approval.id).catch(() => undefined);
        throw err;
      }
      // Posted: the claim stays on a failure to record it, so no second message follows soon.
      await this.deps.decider.setSlackMessage(approval.id, channelId, ts);
      this.log.info({ approvalId: approval.id, runId: approval.runId, channelId, ts, via }, via === "recovery" ? "approval asked in Slack (recovered)" : "approval asked in Slack");
      return { channel: channelId, ts };
    })();
    this.posting.set(approval.id, posting);
    void posting.catch(() => undefined).finally(() => this.posting.delete(approval.id));
    return posting;
  }

  private async resolve(approval: StoredApproval): Promise<void> {
    // Decided while its message was still being posted here: the notice could not name it yet.
    const where = approval.slack ?? (await this.posting.get(approval.id)?.catch(() => undefined));
    if (!where) return;
    await this.deps.ready();
    const message = resolvedMessage(approval);
    await this.deps.api.update(where.channel, where.ts, message.text, message.blocks);
    this.log.info({ approvalId: approval.id, status: approval.status, decidedBy: approval.decidedBy }, "approval message updated");
  }
}
