import type { ApprovalDecision } from "@nubabel/contracts";
import { afterEach, describe, expect, it } from "vitest";
import { NotAnApprover } from "../../src/approvals/errors.js";
import { ActionIds, type ApprovalDecider, type ApprovalNotice, type Decider, type StoredApproval } from "../../src/slack/index.js";
import { Replies } from "../../src/slack/replies.js";
import { response } from "./fake-nubabel.js";
import { buttonsOf } from "./fake-slack-api.js";
import { buttonPress, CHANNEL, mention, ORG, SECRET, startHarness, TEAM, until, USER, type Harness } from "./harness.js";

const OTHER = "U0000STRANGER";

/**
 * The approvals domain as the bot sees it (`ApprovalDecider`): records decisions, lets only the
 * requester decide (a Slack user nobody allowed gets `NotAnApprover`), and tells subscribers of
 * requested and resolved approvals, as the real one does after a decision.
 */
class FakeDecider implements ApprovalDecider {
  readonly decisions: Array<{ organizationId: string; runId: string; approvalId: string; decision: ApprovalDecision; by: Decider }> = [];
  readonly approvals = new Map<string, StoredApproval>();
  private readonly listeners: Array<(notice: ApprovalNotice) => void | Promise<void>> = [];
  private seq = 0;

  async decide(organizationId: string, runId: string, approvalId: string, decision: ApprovalDecision, by: Decider) {
    const approval = this.approvals.get(approvalId);
    if (!approval) throw new Error(`no approval ${approvalId}`);
    if (by.kind === "slack" && by.userId !== USER) throw new NotAnApprover(approvalId, `slack:${by.userId}`);
    this.decisions.push({ organizationId, runId, approvalId, decision, by });
    return this.resolve(approvalId, decision.decision === "approve" ? "approved" : "denied", by.kind === "slack" ? `slack:${by.userId}` : by.kind);
  }

  subscribe(listener: (notice: ApprovalNotice) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  async setSlackMessage(approvalId: string, channel: string, ts: string): Promise<void> {
    this.approvals.get(approvalId)!.slack = { channel, ts };
  }

  /** Claimed messages, as the store keeps them (in one process, a set does what the update does). */
  readonly claimed = new Set<string>();

  async unpostedSlackMessages(requestedBefore: Date, except: string[], limit: number): Promise<StoredApproval[]> {
    return [...this.approvals.values()]
      .filter((a) => a.status === "pending" && !a.slack && !this.claimed.has(a.id) && !except.includes(a.id) && Date.parse(a.requestedAt) < requestedBefore.getTime())
      .slice(0, limit);
  }

  async claimSlackMessage(approvalId: string): Promise<boolean> {
    const a = this.approvals.get(approvalId);
    if (!a || a.status !== "pending" || a.slack || this.claimed.has(approvalId)) return false;
    this.claimed.add(approvalId);
    return true;
  }

  async releaseSlackMessage(approvalId: string): Promise<void> {
    this.claimed.delete(approvalId);
  }

  /** `lost`: stored, but its notice never reaches the bot (the instance that heard the ask died). */
  request(runId: string, sessionId: string, options: { lost?: boolean } = {}): StoredApproval {
    const approval: StoredApproval = {
      id: `apr_fake${++this.seq}`,
      runId,
      sessionId,
      organizationId: ORG,
      requestId: `per_${this.seq}`,
      callId: null,
      tool: "create_page",
      provider: "notion",
      arguments: { title: "Q3 <plan> & notes", parent: { id: "abc" }, token: "[redacted]" },
      status: "pending",
      requestedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
      approvers: "requester",
      repliedAt: null,
      slack: null,
    };
    this.approvals.set(approval.id, approval);
    if (!options.lost) this.emit({ type: "requested", approval: { ...approval } });
    return approval;
  }

  resolve(approvalId: string, status: "approved" | "denied" | "expired", decidedBy: string, reason?: string): StoredApproval {
    const approval = this.approvals.get(approvalId)!;
    Object.assign(approval, { status, decidedBy, decidedAt: new Date().toISOString(), ...(reason ? { reason } : {}) });
    this.emit({ type: "resolved", approval: { ...approval } });
    return approval;
  }

  private emit(notice: ApprovalNotice): void {
    for (const listener of this.listeners) void listener(notice);
  }
}

describe("approvals in Slack", () => {
  let h: Harness;
  let decider: FakeDecider;
  afterEach(async () => h?.close());

  /** A mention whose run keeps running (as one waiting for approval does) until stopped. */
  async function runningTurn(approvalRecovery?: { intervalMs: number; graceMs: number }) {
    decider = new FakeDecider();
    h = await startHarness({ approvals: decider, ...(approvalRecovery ? { approvalRecovery } : {}) });
    h.nubabel.script = async (turn, { aborted }) => {
      await aborted;
      return response(turn, "", "aborted");
    };
    const m = mention("make the Q3 page");
    await h.deliver(m);
    const run = await until(() => h.nubabel.runs[0]?.run.status === "running" && h.nubabel.runs[0], 5_000, "the run");
    return { threadTs: m.ts as string, run: run.run };
  }

  async function askedMessage(threadTs: string) {
    return until(() => h.slack.thread(CHANNEL, threadTs).find((msg) => buttonsOf(msg).includes(ActionIds.approve)), 5_000, "the approval message");
  }

  it("asks in the run's thread with Approve and Deny, refuses a stranger's press, takes the requester's, then shows who decided", async () => {
    const { threadTs, run } = await runningTurn();
    const approval = decider.request(run.id, run.sessionId);
    const asked = await askedMessage(threadTs);
    expect(buttonsOf(asked)).toEqual([ActionIds.approve, ActionIds.deny]);
    const [section, actions] = asked.blocks!;
    expect(section.text.text).toContain("`notion/create_page`");
    expect(section.text.text).toContain("Q3 &lt;plan&gt; &amp; notes");
    expect(section.text.text).toContain(`Who may decide: <@${USER}>`);
    expect(section.text.text).toContain(`<!date^${Math.floor(Date.parse(approval.expiresAt) / 1000)}^`);
    expect(actions.elements.map((e: { style: string }) => e.style)).toEqual(["primary", "danger"]);
    expect(JSON.parse(actions.elements[0].value)).toEqual({ runId: run.id, approvalId: approval.id, approvers: `<@${USER}>` });
    expect(asked.text).toContain("notion/create_page");
    await until(() => decider.approvals.get(approval.id)!.slack?.ts === asked.ts, 2_000, "the message stored with the approval");

    // Someone the policy does not name: told so, alone; nothing is decided.
    expect((await h.interact(buttonPress(asked, ActionIds.approve, { user: OTHER }))).status).toBe(200);
    const refusal = await until(() => h.slack.ephemerals.find((e) => e.user === OTHER), 5_000, "the ephemeral refusal");
    expect(refusal).toMatchObject({ channel: CHANNEL, threadTs, text: Replies.notYours(`<@${USER}>`) });
    expect(refusal.text).toContain("not yours to approve");
    expect(decider.decisions).toEqual([]);
    expect(buttonsOf(h.slack.messages.get(asked.ts))).toEqual([ActionIds.approve, ActionIds.deny]);

    // The requester approves: decided through the port, and the message says who and when, without buttons.
    expect((await h.interact(buttonPress(asked, ActionIds.approve))).status).toBe(200);
    await until(() => decider.decisions.length === 1, 5_000, "the decision");
    expect(decider.decisions[0]).toEqual({ organizationId: ORG, runId: run.id, approvalId: approval.id, decision: { decision: "approve" }, by: { kind: "slack", teamId: TEAM, userId: USER } });
    const decided = await until(() => {
      const msg = h.slack.messages.get(asked.ts)!;
      return buttonsOf(msg).length === 0 && msg;
    }, 5_000, "the decided message");
    const decidedAt = Math.floor(Date.parse(decider.approvals.get(approval.id)!.decidedAt!) / 1000);
    expect(decided.blocks![0].text.text).toContain(`*Approved* by <@${USER}> (<!date^${decidedAt}^`);
    expect(decided.text).toMatch(/^Approved/);
    expect(h.slack.ephemerals.filter((e) => e.user === USER)).toEqual([]);
  });

  it("shows a decision through the API, and an expiry, with the reason and no buttons", async () => {
    const { threadTs, run } = await runningTurn();
    const first = decider.request(run.id, run.sessionId);
    const second = decider.request(run.id, run.sessionId);
    await until(() => decider.approvals.get(first.id)!.slack && decider.approvals.get(second.id)!.slack, 5_000, "both messages");
    decider.resolve(first.id, "denied", "api", "not <this> quarter");
    decider.resolve(second.id, "expired", "timeout");
    const a = h.slack.messages.get(decider.approvals.get(first.id)!.slack!.ts)!;
    const b = h.slack.messages.get(decider.approvals.get(second.id)!.slack!.ts)!;
    await until(() => !a.blocks?.some((x) => x.type === "actions") && !b.blocks?.some((x) => x.type === "actions"), 5_000, "both updated");
    expect(a.blocks![0].text.text).toContain("*Denied* through the API");
    expect(a.blocks![0].text.text).toContain("> not &lt;this&gt; quarter");
    expect(b.blocks![0].text.text).toContain("nobody answered in time");
    expect(h.slack.thread(CHANNEL, threadTs).filter((m) => buttonsOf(m).includes(ActionIds.approve))).toEqual([]);
  });

  it("refuses an interactivity request with a bad signature (401) and decides nothing", async () => {
    const { threadTs, run } = await runningTurn();
    decider.request(run.id, run.sessionId);
    const asked = await askedMessage(threadTs);
    const res = await h.interact(buttonPress(asked, ActionIds.approve), { secret: `${SECRET}x` });
    expect(res.status).toBe(401);
    const stale = await h.interact(buttonPress(asked, ActionIds.approve), { timestamp: Math.floor(Date.now() / 1000) - 600 });
    expect(stale.status).toBe(401);
    await new Promise((r) => setTimeout(r, 300));
    expect(decider.decisions).toEqual([]);
    expect(h.slack.ephemerals).toEqual([]);
  });

  it("answers a press from a workspace nobody linked, deciding nothing", async () => {
    const { threadTs, run } = await runningTurn();
    decider.request(run.id, run.sessionId);
    const asked = await askedMessage(threadTs);
    await h.interact(buttonPress(asked, ActionIds.approve, { teamId: "T0000ELSEWHERE" }));
    const told = await until(() => h.slack.ephemerals[0], 5_000, "the ephemeral");
    expect(told.text).toBe(Replies.unlinked("T0000ELSEWHERE"));
    expect(decider.decisions).toEqual([]);
  });

  it("posts the message of an approval whose notice was lost, once, after the grace; its press decides", async () => {
    const { threadTs, run } = await runningTurn({ intervalMs: 100, graceMs: 300 });
    const approval = decider.request(run.id, run.sessionId, { lost: true });
    const asked = await askedMessage(threadTs);
    expect(Date.now() - Date.parse(approval.requestedAt)).toBeGreaterThanOrEqual(300);
    await until(() => decider.approvals.get(approval.id)!.slack?.ts === asked.ts, 2_000, "the message stored with the approval");
    // Later rounds find it posted: still one message.
    await new Promise((r) => setTimeout(r, 500));
    expect(h.slack.thread(CHANNEL, threadTs).filter((m) => buttonsOf(m).includes(ActionIds.approve))).toHaveLength(1);

    await h.interact(buttonPress(asked, ActionIds.approve));
    await until(() => decider.decisions.length === 1, 5_000, "the decision");
    const decided = await until(() => !buttonsOf(h.slack.messages.get(asked.ts)).length && h.slack.messages.get(asked.ts)!, 5_000, "the decided message");
    expect(decided.text).toMatch(/^Approved/);
  });

  it("updates a recovered message whose approval was decided while it was being posted", async () => {
    const { threadTs, run } = await runningTurn({ intervalMs: 100, graceMs: 300 });
    // Slack holds the recovered post up for a second; the decision lands meanwhile.
    h.slack.rateLimit("chat.postMessage", 1, 1);
    const approval = decider.request(run.id, run.sessionId, { lost: true });
    await until(() => decider.claimed.has(approval.id), 5_000, "the recovery's claim");
    await until(() => h.slack.callsOf("chat.postMessage").some((c) => c.status === 429 && c.args.thread_ts === threadTs), 5_000, "the held-up post");
    expect(decider.approvals.get(approval.id)!.slack).toBeNull();
    decider.resolve(approval.id, "denied", "api", "too late");
    const shown = await until(() => h.slack.thread(CHANNEL, threadTs).find((m) => /^Denied/.test(m.text)), 5_000, "the updated message");
    expect(buttonsOf(shown)).toEqual([]);
    expect(h.slack.thread(CHANNEL, threadTs).filter((m) => buttonsOf(m).includes(ActionIds.approve))).toEqual([]);
  });

  it("posts nothing for a run that came through the API", async () => {
    const { threadTs, run } = await runningTurn();
    h.nubabel.runs[0]!.run.origin = { kind: "api" };
    const approval = decider.request(run.id, run.sessionId);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.slack.thread(CHANNEL, threadTs).filter((m) => buttonsOf(m).includes(ActionIds.approve))).toEqual([]);
    expect(decider.approvals.get(approval.id)!.slack).toBeNull();
  });
});

describe("the progress message's Stop button", () => {
  let h: Harness;
  afterEach(async () => h?.close());

  it("is there while the run goes on, and a press stops it as `stop` does; the answer has no buttons", async () => {
    h = await startHarness();
    h.nubabel.script = async (turn, { aborted }) => {
      await aborted;
      return response(turn, "half done", "aborted");
    };
    const m = mention("a long job");
    await h.deliver(m);
    const progress = await until(() => h.slack.thread(CHANNEL, m.ts as string).find((msg) => buttonsOf(msg).includes(ActionIds.stop)), 5_000, "the Stop button");
    const run = h.nubabel.runs[0]!.run;
    const stop = progress.blocks!.find((b) => b.type === "actions")!.elements[0];
    expect(stop).toMatchObject({ action_id: ActionIds.stop, value: run.id, text: { text: "Stop" } });
    expect(progress.blocks![0].text.text).toBe(progress.text);

    expect((await h.interact(buttonPress(progress, ActionIds.stop))).status).toBe(200);
    await until(() => h.nubabel.aborts.length === 1, 5_000, "the abort");
    expect(h.nubabel.aborts[0]).toEqual({ organizationId: ORG, sessionId: run.sessionId });
    await until(() => h.slack.thread(CHANNEL, m.ts as string).some((msg) => msg.text === Replies.stopping), 5_000, "the stopping reply");
    const answered = await until(() => {
      const msg = h.slack.messages.get(progress.ts)!;
      return msg.text.startsWith(Replies.stopped) && msg;
    }, 5_000, "the answer");
    expect(buttonsOf(answered)).toEqual([]);
    expect(answered.blocks).toBeUndefined();
  });
});
