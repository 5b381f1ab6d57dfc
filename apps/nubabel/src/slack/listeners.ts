import type { App } from "@slack/bolt";
import { z } from "zod";
import type { Logger } from "../log/logger.js";
import type { Conversations, IncomingMessage } from "./conversations.js";
import type { EventDedupe } from "./ports.js";

/** The fields of a message-like event the bot reads; checked once here, trusted after. */
const MessageFields = z.object({
  channel: z.string().min(1),
  ts: z.string().min(1),
  thread_ts: z.string().optional(),
  text: z.string().default(""),
  user: z.string().optional(),
  subtype: z.string().optional(),
  bot_id: z.string().optional(),
  channel_type: z.string().optional(),
});

const ReactionFields = z.object({
  reaction: z.string(),
  item: z.object({ type: z.string(), channel: z.string().optional(), ts: z.string().optional() }),
});

/** Message subtypes that are still a person talking (the rest are edits, joins, bots…). */
const SPOKEN = new Set([undefined, "thread_broadcast", "file_share"]);

export interface ListenerDeps {
  conversations: Conversations;
  dedupe: EventDedupe;
  dedupeTtlSeconds: number;
  botUserId: () => string | undefined;
  log: Logger;
}

/** Wires Slack events to conversations: dedupe first, then mentions, thread messages and reactions. */
export function registerListeners(app: App, deps: ListenerDeps): void {
  const { conversations, dedupe, log } = deps;

  // Slack redelivers an event it thinks we missed (same event_id); a task must run once only.
  app.use(async ({ body, context, next }) => {
    const eventId = (body as { event_id?: unknown }).event_id;
    if (typeof eventId === "string") {
      let first = true;
      try {
        first = await dedupe.claim(`slack:event:${eventId}`, deps.dedupeTtlSeconds);
      } catch (err) {
        // We ack at once, so redeliveries are rare; answering twice beats never answering.
        log.warn({ err: (err as Error).message, eventId }, "event dedupe unavailable; processing anyway");
      }
      if (!first) {
        log.info({ eventId, retryNum: context.retryNum, retryReason: context.retryReason }, "duplicate Slack event ignored");
        return;
      }
    }
    await next();
  });

  app.event("app_mention", async ({ event, body, context }) => {
    const message = incoming(event, body, context.teamId);
    if (message) await conversations.mention(message);
  });

  app.event("message", async ({ event, body, context }) => {
    const parsed = MessageFields.safeParse(event);
    if (!parsed.success) return;
    const m = parsed.data;
    if (!SPOKEN.has(m.subtype) || m.bot_id || !m.user || m.user === deps.botUserId()) return;
    const message = incoming(m, body, context.teamId);
    if (!message) return;
    // A direct message needs no mention: it is always addressed to the bot.
    if (m.channel_type === "im" && !m.thread_ts) return conversations.mention(message);
    // A mention arrives as `app_mention` too; that listener handles it.
    const bot = deps.botUserId();
    if (bot && m.text.includes(`<@${bot}`)) return;
    await conversations.threadMessage(message);
  });

  app.event("reaction_added", async ({ event, body, context }) => {
    const parsed = ReactionFields.safeParse(event);
    const teamId = teamOf(body, context.teamId);
    if (!parsed.success || !teamId) return;
    const { reaction, item } = parsed.data;
    if (item.type !== "message" || !item.channel || !item.ts) return;
    await conversations.reaction({ teamId, channelId: item.channel, itemTs: item.ts, reaction });
  });
}

function incoming(event: unknown, body: unknown, contextTeamId: string | undefined): IncomingMessage | undefined {
  const parsed = MessageFields.safeParse(event);
  const teamId = teamOf(body, contextTeamId);
  if (!parsed.success || !teamId || !parsed.data.user) return undefined;
  const m = parsed.data;
  const eventId = (body as { event_id?: unknown }).event_id;
  return { teamId, channelId: m.channel, ts: m.ts, threadTs: m.thread_ts, userId: m.user!, text: m.text, eventId: typeof eventId === "string" ? eventId : undefined };
}

/** The workspace the event was delivered for (the installation's team, also in shared channels). */
function teamOf(body: unknown, fallback: string | undefined): string | undefined {
  const b = body as { team_id?: unknown; authorizations?: Array<{ team_id?: unknown }> };
  const fromAuth = b.authorizations?.[0]?.team_id;
  if (typeof fromAuth === "string") return fromAuth;
  return typeof b.team_id === "string" ? b.team_id : fallback;
}
