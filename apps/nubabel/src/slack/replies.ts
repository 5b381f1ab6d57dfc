import type { DelegateResponse } from "@nubabel/contracts";
import { money, type BudgetExceededData } from "../budgets/index.js";
import { escapeSlack, markdownToMrkdwn, splitMessage } from "./text.js";

/** Everything the bot says that is not the agent's answer, in one place so the voice stays one. */
export const Replies = {
  /** Names the team id, so the person can pass the exact command on to whoever runs Nubabel. */
  unlinked: (teamId: string) =>
    ":wave: Hi! This Slack workspace isn't connected to a Nubabel organization yet, so I can't work here. " +
    `Ask whoever runs Nubabel to link it: \`nubabel org link-slack --org <organization id> --team ${teamId}\``,
  emptyPrompt: ":wave: Hi! Mention me with what you need, for example `@Nubabel summarize my open Notion tasks`.",
  queued: ":hourglass: I'm still working on the previous request in this thread; this one is next.",
  stopping: ":octagonal_sign: Stopping the running task.",
  stopped: ":octagonal_sign: Stopped before finishing. Ask again whenever you're ready.",
  nothingToStop: "Nothing is running in this thread right now.",
  cancelledQueued: ":octagonal_sign: Cancelled before it started (you said stop).",
  /** A queued run, with its place among the organization's waiting requests. */
  waiting: (position: number | undefined) =>
    `:hourglass: Waiting for a free slot${position ? `: this request is number ${position} in line for your organization` : ""}. ` +
    "I'll start as soon as one opens.\n_Say `stop` in this thread to cancel._",
  /** Shown by an instance that stops mid-turn: the run goes on, and its answer is handed over later. */
  restarting: ":arrows_counterclockwise: I'm restarting. The work goes on, and the answer will follow here.",
  queueFull: (unfinished: number) =>
    `:hourglass: Your organization already has ${unfinished} requests running or waiting, as many as it may. Please try again in a few minutes, once some have finished.`,
  /** The organization spent its monthly cap; `resetsAt` is an ISO time (the first of next month, UTC). */
  budgetExceeded: (spent: string, resetsAt: string) =>
    `:no_entry: Your organization reached its monthly budget (${spent}), so I didn't start this. ` +
    `The budget resets on ${day(resetsAt)}; until then an admin can raise it through Nubabel's API (\`PUT /api/budget\`).`,
  stopFailed: ":warning: I couldn't stop the running task just now. Please try `stop` again in a moment.",
  /** Ephemeral, to someone who pressed Approve / Deny but is not among the approvers. */
  notYours: (whoMay: string) => `:no_entry: This one is not yours to approve: only ${whoMay} may decide it.`,
  alreadyDecided: ":information_source: This request was already decided (or expired); your press changed nothing.",
  approvalGone: ":information_source: I can't find this approval any more; nothing was decided.",
  decisionFailed: ":warning: I couldn't record your decision just now. Please press the button again in a moment.",
  approvalsUnavailable: ":information_source: Approvals can't be decided from Slack on this Nubabel right now; nothing was decided.",
  otherOrganization:
    ":warning: This thread was started for a different Nubabel organization than the one this workspace is linked to now. Please start a new thread.",
} as const;

/** More parts than this would flood the thread; the rest is left to the session's history. */
export const MAX_PARTS = 8;

/** The final messages for a finished turn (mrkdwn, split to fit Slack, at most `MAX_PARTS`). */
export function answerMessages(response: DelegateResponse, limit?: number): string[] {
  const output = response.output.trim();
  if (response.status === "success") {
    return capped(splitMessage(output ? markdownToMrkdwn(output) : "_(The agent finished without writing an answer.)_", limit), output.length);
  }
  const partial = output ? `\n\nWhat I had so far:\n${markdownToMrkdwn(output)}` : "";
  if (response.status === "aborted") return capped(splitMessage(`${Replies.stopped}${partial}`, limit), output.length);
  const why = escapeSlack(response.error?.message ?? "the agent reported an error without details");
  return capped(
    splitMessage(
      `:warning: I couldn't finish this: ${why}.\nPlease try again; if it keeps failing, try rephrasing or ask whoever runs Nubabel to check the logs.${partial}`,
      limit,
    ),
    output.length,
  );
}

function capped(parts: string[], chars: number): string[] {
  if (parts.length <= MAX_PARTS) return parts;
  return [
    ...parts.slice(0, MAX_PARTS - 1),
    `_The answer is too long for Slack (${chars.toLocaleString("en")} characters); I've posted the beginning. ` +
      "Ask me for a shorter version, or read it whole in this session's history through Nubabel's API._",
  ];
}

/**
 * Plain words for a failed delegation, keyed on the core's typed error names, with what to do next.
 * `ref` ties the message to the log line for whoever investigates.
 */
export function failureMessage(err: unknown, ref: string): string {
  const message = err instanceof Error ? err.message : String(err);
  // A raw network failure (no typed error around it) means the same to a person as an outage.
  const unreachable = /ECONNREFUSED|ECONNRESET|fetch failed|ETIMEDOUT|ENOTFOUND/.test(message);
  const name = unreachable ? "SidecarUnavailable" : err instanceof Error ? err.name : "";
  switch (name) {
    case "SidecarUnavailable":
    case "BrokenCircuitError":
    case "TaskCancelledError":
      return ":warning: I can't reach my worker right now, so nothing ran. Please try again in a minute; if it keeps happening, tell whoever runs Nubabel.";
    case "RunQueueFull": {
      const data = (err as { data?: { running?: number; queued?: number } }).data;
      return Replies.queueFull((data?.running ?? 0) + (data?.queued ?? 0));
    }
    case "BudgetExceeded": {
      const data = (err as { data?: Partial<BudgetExceededData> }).data;
      return Replies.budgetExceeded(data?.spent && data.budget ? spentOf(data as BudgetExceededData) : "its cap is spent", data?.resetsAt ?? "");
    }
    case "OpencodeSessionLost":
      return ":warning: My worker lost this thread's conversation, so I can't continue it. Please start a new thread by mentioning me.";
    case "SessionNotFound":
      return ":warning: I can't find this thread's conversation any more. Please start a new thread by mentioning me.";
    case "SidecarRejected":
      // A 5xx refusal (no model configured, a plugin missing) is the operator's to fix, and its
      // text may name the machine's paths: not the asker's to read, nor to fix by rephrasing.
      if (((err as { data?: { status?: number } }).data?.status ?? 0) >= 500) {
        return `:warning: My worker isn't set up to run requests right now, so nothing ran. Please tell whoever runs Nubabel (reference \`${ref}\`).`;
      }
      return `:warning: My worker turned this request down: ${escapeSlack(message)}. Please rephrase and try again.`;
    case "RateLimited":
      return ":hourglass: Your organization is sending me a lot right now. Please wait a minute and try again.";
    default:
      return `:warning: Something went wrong on my side and nothing was answered. Please try again; if it keeps happening, tell whoever runs Nubabel (reference \`${ref}\`).`;
  }
}

/** "1.02 of 1 USD, 52,000 of 50,000 tokens": each cap in force with what was spent against it. */
function spentOf({ budget, spent }: BudgetExceededData): string {
  const parts: string[] = [];
  if (budget.monthlyCost !== undefined) parts.push(`${money(spent.cost)} of ${money(budget.monthlyCost)} USD spent`);
  if (budget.monthlyTokens !== undefined) parts.push(`${spent.tokens.toLocaleString("en")} of ${budget.monthlyTokens.toLocaleString("en")} tokens used`);
  return parts.join(", ");
}

/** "December 1, 2026 (UTC)", or the words for an unknown time. */
function day(iso: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "the first of next month (UTC)";
  return `${at.toLocaleDateString("en", { timeZone: "UTC", month: "long", day: "numeric", year: "numeric" })} (UTC)`;
}
