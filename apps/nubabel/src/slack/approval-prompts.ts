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
  private readonly log: Logger;

  constructor(private readonly deps: ApprovalPromptsDeps) {
    this.log = deps.logger.child({ module: "slack", component: "approvals" });
  }

  /** Listens to the domain's notices; returns at once for each, so Slack never holds a decision up. */
  subscribe(): void {
    this.deps.decider.subscribe((notice) => this.notice(notice));
  }

  notice(notice: ApprovalNotice): void {
    if (this.closed) return;
    const { approval } = notice;
    const work = (notice.type === "requested" ? this.post(approval).then(() => undefined) : this.resolve(approval)).catch((err: Error) =>
      this.log.warn({ approvalId: approval.id, runId: approval.runId, type: notice.type, err: err.message }, "could not show the approval in Slack"),
    );
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
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
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  private post(approval: StoredApproval): Promise<Where | undefined> {
    const posting = (async (): Promise<Where | undefined> => {
      const run = await this.deps.nubabel.run(approval.organizationId, approval.runId);
      // A run asked through the API has no thread; its caller decides through the API.
      if (run.origin.kind !== "slack") return undefined;
      const { channelId, threadTs, userId } = run.origin;
      await this.deps.ready();
      const message = requestedMessage(approval, userId);
      const ts = await this.deps.api.post(channelId, threadTs, message.text, message.blocks);
      await this.deps.decider.setSlackMessage(approval.id, channelId, ts);
      this.log.info({ approvalId: approval.id, runId: approval.runId, channelId, ts }, "approval asked in Slack");
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
