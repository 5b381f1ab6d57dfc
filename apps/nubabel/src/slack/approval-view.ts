import { Ids, type Approvers } from "@nubabel/contracts";
import { z } from "zod";
import { ActionIds } from "./action-ids.js";
import type { StoredApproval } from "./ports.js";
import { SECTION_LIMIT } from "./progress-view.js";
import { escapeSlack } from "./text.js";
import type { Blocks } from "./web-api.js";

/**
 * What an Approve / Deny button carries back (its `value`, at most 2,000 characters): which
 * approval, and who may decide it, in words, for the reply to someone who may not. Nothing secret,
 * and nothing trusted: the approvals domain decides who may.
 */
export const ApprovalButton = z.object({ runId: Ids.RunId, approvalId: Ids.ApprovalId, approvers: z.string().max(1_500) });
export type ApprovalButton = z.infer<typeof ApprovalButton>;

/** A Slack message: `text` is what notifications (and clients without Block Kit) show. */
export interface SlackMessage {
  text: string;
  blocks: Blocks;
}

const MAX_ARGUMENTS = 8;
const MAX_VALUE = 200;
const MAX_NAMED = 20;
const USER_ID = /^[UW][A-Z0-9]{2,30}$/;

/** The message asking for a decision: what the agent wants to do, who may decide, until when, and the buttons. */
export function requestedMessage(approval: StoredApproval, requesterUserId: string): SlackMessage {
  const who = whoMay(approval.approvers, requesterUserId);
  const value = JSON.stringify({ runId: approval.runId, approvalId: approval.id, approvers: who } satisfies ApprovalButton);
  const section = [
    `:raised_hand: *Approval needed:* the agent wants to use ${code(toolOf(approval))}.`,
    argumentsBlock(approval.arguments),
    `Who may decide: ${who}. Unanswered by ${slackDate(approval.expiresAt)}, it counts as denied.`,
  ].join("\n");
  return {
    text: `Approval needed: the agent wants to use ${toolOf(approval)}.`,
    blocks: [
      { type: "section", text: { type: "mrkdwn", text: bounded(section) } },
      {
        type: "actions",
        block_id: "approval",
        elements: [
          { type: "button", action_id: ActionIds.approve, style: "primary", text: { type: "plain_text", text: "Approve" }, value },
          { type: "button", action_id: ActionIds.deny, style: "danger", text: { type: "plain_text", text: "Deny" }, value },
        ],
      },
    ],
  };
}

/** The same message once decided (or expired): who decided, when, and why; no buttons. */
export function resolvedMessage(approval: StoredApproval): SlackMessage {
  const outcome = outcomeOf(approval);
  const reason = approval.reason?.trim() ? `\n> ${escapeSlack(approval.reason.trim().slice(0, 500)).replace(/\n/g, "\n> ")}` : "";
  const section = [`:raised_hand: The agent asked to use ${code(toolOf(approval))}.`, argumentsBlock(approval.arguments), `${outcome.mrkdwn}${reason}`].join("\n");
  return {
    text: `${outcome.plain}: ${toolOf(approval)}`,
    blocks: [{ type: "section", text: { type: "mrkdwn", text: bounded(section) } }],
  };
}

/** Who may decide, as people read it in Slack. */
export function whoMay(approvers: Approvers, requesterUserId: string): string {
  if (approvers === "requester") return mentionOf(requesterUserId);
  if (approvers === "workspace") return "anyone in this workspace";
  const named = approvers.slice(0, MAX_NAMED).map(mentionOf).join(", ");
  return approvers.length > MAX_NAMED ? `${named} and ${approvers.length - MAX_NAMED} more` : named;
}

/** `slack:U123` → `by <@U123>`, `api` → `through the API`, `timeout` → `nobody answered in time`. */
export function decidedByText(decidedBy: string | undefined): string {
  if (decidedBy === "api") return "through the API";
  if (decidedBy === "timeout") return "nobody answered in time";
  if (decidedBy?.startsWith("slack:")) return `by ${mentionOf(decidedBy.slice(decidedBy.lastIndexOf(":") + 1))}`;
  return decidedBy ? `by ${escapeSlack(decidedBy)}` : "by someone";
}

function outcomeOf(approval: StoredApproval): { mrkdwn: string; plain: string } {
  const when = approval.decidedAt ? ` (${slackDate(approval.decidedAt)})` : "";
  if (approval.decidedBy === "run") {
    return { mrkdwn: `:hourglass: *Not approved:* the run ended before anyone decided${when}.`, plain: "Not approved (the run ended first)" };
  }
  if (approval.status === "expired" || approval.decidedBy === "timeout") {
    return { mrkdwn: `:hourglass: *Not approved:* nobody answered in time${when}.`, plain: "Not approved (nobody answered in time)" };
  }
  const by = decidedByText(approval.decidedBy);
  if (approval.status === "approved") return { mrkdwn: `:white_check_mark: *Approved* ${by}${when}.`, plain: "Approved" };
  return { mrkdwn: `:no_entry_sign: *Denied* ${by}${when}.`, plain: "Denied" };
}

function toolOf(approval: StoredApproval): string {
  return approval.provider ? `${approval.provider}/${approval.tool}` : approval.tool;
}

/**
 * The call's arguments (already redacted by the domain), one per line, each cut short, in a code
 * block: enough to judge the call, never the whole of a long document.
 */
function argumentsBlock(args: Record<string, unknown>): string {
  const entries = Object.entries(args);
  if (entries.length === 0) return "_(no arguments)_";
  const lines = entries.slice(0, MAX_ARGUMENTS).map(([key, value]) => `${cut(key, 60)}: ${cut(typeof value === "string" ? value : JSON.stringify(value) ?? String(value), MAX_VALUE)}`);
  if (entries.length > MAX_ARGUMENTS) lines.push(`… and ${entries.length - MAX_ARGUMENTS} more`);
  // A ``` inside would close the block early.
  return `\`\`\`${escapeSlack(lines.join("\n")).replace(/`{3,}/g, "'''")}\`\`\``;
}

function cut(text: string, max: number): string {
  const oneLine = text.replace(/\s*\n\s*/g, " ⏎ ");
  return oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
}

function bounded(text: string): string {
  return text.length > SECTION_LIMIT ? `${text.slice(0, SECTION_LIMIT - 1)}…` : text;
}

function code(name: string): string {
  return `\`${escapeSlack(name).replace(/`/g, "'")}\``;
}

function mentionOf(userId: string): string {
  return USER_ID.test(userId) ? `<@${userId}>` : escapeSlack(userId);
}

/** A time every reader sees in their own time zone; the ISO text is the fallback. */
function slackDate(iso: string): string {
  const seconds = Math.floor(Date.parse(iso) / 1000);
  return Number.isFinite(seconds) ? `<!date^${seconds}^{date_short_pretty} at {time}|${iso}>` : escapeSlack(iso);
}
