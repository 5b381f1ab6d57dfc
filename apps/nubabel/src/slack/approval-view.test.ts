import { describe, expect, it } from "vitest";
import { ActionIds } from "./action-ids.js";
import { ApprovalButton, decidedByText, requestedMessage, resolvedMessage, whoMay } from "./approval-view.js";
import type { StoredApproval } from "./ports.js";

const base: StoredApproval = {
  id: "apr_1",
  runId: "run_1",
  sessionId: "ses_1",
  organizationId: "org_1",
  requestId: "per_1",
  callId: null,
  tool: "bash",
  arguments: { command: "rm -rf ./build && echo ```done```", env: { A: "1" } },
  status: "pending",
  requestedAt: "2026-01-01T10:00:00.000Z",
  expiresAt: "2026-01-01T10:10:00.000Z",
  approvers: "requester",
  repliedAt: null,
  slack: null,
};

describe("approval messages", () => {
  it("say what the agent wants (escaped, no way out of the code block), who may decide and until when", () => {
    const { text, blocks } = requestedMessage(base, "U0REQUESTER");
    const section = (blocks[0] as { text: { text: string } }).text.text;
    expect(text).toBe("Approval needed: the agent wants to use bash.");
    expect(section).toContain("`bash`");
    expect(section).toContain("command: rm -rf ./build &amp;&amp; echo '''done'''");
    expect(section).toContain('env: {"A":"1"}');
    expect(section).toContain("Who may decide: <@U0REQUESTER>");
    expect(section).toContain(`<!date^${Date.parse(base.expiresAt) / 1000}^{date_short_pretty} at {time}|${base.expiresAt}>`);
    const actions = blocks[1] as { elements: Array<{ action_id: string; value: string }> };
    expect(actions.elements.map((e) => e.action_id)).toEqual([ActionIds.approve, ActionIds.deny]);
    expect(ApprovalButton.parse(JSON.parse(actions.elements[0]!.value))).toEqual({ runId: "run_1", approvalId: "apr_1", approvers: "<@U0REQUESTER>" });
  });

  it("stay within Slack's limits for long and many arguments", () => {
    const args = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, "x".repeat(5_000)]));
    const { blocks } = requestedMessage({ ...base, provider: "notion", tool: "create_page", arguments: args }, "U0REQUESTER");
    const section = (blocks[0] as { text: { text: string } }).text.text;
    expect(section.length).toBeLessThanOrEqual(3_000);
    expect(section).toContain("`notion/create_page`");
    expect(section).toContain("… and 22 more");
    expect((blocks[1] as { elements: Array<{ value: string }> }).elements[0]!.value.length).toBeLessThanOrEqual(2_000);
  });

  it("name who may decide", () => {
    expect(whoMay("workspace", "U1X")).toBe("anyone in this workspace");
    expect(whoMay(["U0AAA", "W0BBB"], "U1X")).toBe("<@U0AAA>, <@W0BBB>");
    expect(whoMay(Array.from({ length: 25 }, (_, i) => `U0${i}AA`), "U1X")).toMatch(/and 5 more$/);
  });

  it("say who decided, when and why, and carry no buttons", () => {
    const decided = resolvedMessage({ ...base, status: "denied", decidedBy: "slack:U0DECIDER", decidedAt: "2026-01-01T10:05:00.000Z", reason: "not <now>" });
    expect(decided.blocks).toHaveLength(1);
    const section = (decided.blocks[0] as { text: { text: string } }).text.text;
    expect(section).toContain("*Denied* by <@U0DECIDER> (<!date^");
    expect(section).toContain("> not &lt;now&gt;");
    expect(decided.text).toBe("Denied: bash");
    expect(decidedByText("api")).toBe("through the API");
    expect(decidedByText("timeout")).toBe("nobody answered in time");
    expect(decidedByText("slack:<!channel>")).toBe("by &lt;!channel&gt;");
    const expired = resolvedMessage({ ...base, status: "expired", decidedBy: "timeout", decidedAt: "2026-01-01T10:10:00.000Z" });
    expect((expired.blocks[0] as { text: { text: string } }).text.text).toContain("nobody answered in time");
  });
});
