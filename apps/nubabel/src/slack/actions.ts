import type { App } from "@slack/bolt";
import { z } from "zod";
import type { Logger } from "../log/logger.js";
import { ActionIds } from "./action-ids.js";
import type { ApprovalPrompts } from "./approval-prompts.js";
import { ApprovalButton } from "./approval-view.js";
import type { Conversations } from "./conversations.js";
import { Replies } from "./replies.js";
import type { SlackApi } from "./web-api.js";

/** The fields of a `block_actions` payload the bot reads; checked once here, trusted after. */
const Press = z.object({
  user: z.object({ id: z.string().min(1), team_id: z.string().optional() }),
  team: z.object({ id: z.string().min(1) }).nullish(),
  channel: z.object({ id: z.string().min(1) }),
  message: z.object({ ts: z.string().min(1), thread_ts: z.string().optional() }),
  actions: z.array(z.object({ action_id: z.string(), value: z.string().optional() })).min(1),
});
type Press = z.infer<typeof Press>;

export interface ActionDeps {
  conversations: Conversations;
  /** Absent when this Nubabel has no approvals domain wired: a press is then answered, not decided. */
  approvals: ApprovalPrompts | undefined;
  api: SlackApi;
  log: Logger;
}

/**
 * Wires button presses (`block_actions`, over HTTP or Socket Mode alike) to the bot: Stop on a
 * progress message, Approve / Deny on an approval message. Each press is acknowledged first.
 */
export function registerActions(app: App, deps: ActionDeps): void {
  const { conversations, log } = deps;

  app.action(ActionIds.stop, async ({ ack, body, context }) => {
    await ack();
    const press = parse(body, context.teamId, log);
    if (!press) return;
    log.info({ runId: press.value, teamId: press.teamId, userId: press.body.user.id }, "Stop pressed");
    await conversations.stopPressed({ teamId: press.teamId, channelId: press.body.channel.id, itemTs: press.body.message.ts, threadTs: press.body.message.thread_ts });
  });

  for (const [actionId, decision] of [
    [ActionIds.approve, "approve"],
    [ActionIds.deny, "deny"],
  ] as const) {
    app.action(actionId, async ({ ack, body, context }) => {
      await ack();
      const press = parse(body, context.teamId, log);
      if (!press) return;
      const { channel, message, user } = press.body;
      const threadTs = message.thread_ts;
      const button = parseButton(press.value);
      if (!button) {
        log.warn({ actionId }, "approval button without a readable value ignored");
        return;
      }
      if (!deps.approvals) {
        await deps.api.ephemeral(channel.id, user.id, Replies.approvalsUnavailable, threadTs).catch((err: Error) => log.warn({ err: err.message }, "could not answer the press"));
        return;
      }
      await deps.approvals.press({ teamId: press.teamId, userId: user.id, channelId: channel.id, threadTs, decision, button });
    });
  }
}

function parse(body: unknown, contextTeamId: string | undefined, log: Logger): { body: Press; teamId: string; value: string } | undefined {
  const parsed = Press.safeParse(body);
  if (!parsed.success) {
    log.warn({ issues: parsed.error.issues.length }, "button press without the expected fields ignored");
    return undefined;
  }
  // The presser's own workspace first: in a channel shared with another workspace (Slack Connect),
  // a guest from there must not count as a member of the linked one.
  const teamId = parsed.data.user.team_id ?? contextTeamId ?? parsed.data.team?.id;
  if (!teamId) return undefined;
  return { body: parsed.data, teamId, value: parsed.data.actions[0]!.value ?? "" };
}

function parseButton(value: string): ApprovalButton | undefined {
  try {
    const parsed = ApprovalButton.safeParse(JSON.parse(value));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
