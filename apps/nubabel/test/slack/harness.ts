import { createHmac, randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify, { type FastifyInstance } from "fastify";
import { pino } from "pino";
import { Webhooks } from "@nubabel/contracts";
import {
  createSlackBot,
  MemorySlackLinks,
  MemorySlackThreads,
  type ApprovalDecider,
  type NubabelPort,
  type SlackBot,
  type SlackThreads,
} from "../../src/slack/index.js";
import { FakeNubabel } from "./fake-nubabel.js";
import { BOT_USER_ID, startFakeSlackApi, type FakeSlackApi, type StoredMessage } from "./fake-slack-api.js";

export const SECRET = "8f742231b10e8888abcd99yyyzzz85a5";
export const TEAM = "T0000LINKED";
export const ORG = "org_slacktest0001";
export const CHANNEL = "C0000GENERAL";
export const USER = "U0000PERSON";

export interface Harness {
  slack: FakeSlackApi;
  nubabel: FakeNubabel;
  links: MemorySlackLinks;
  threads: SlackThreads;
  bot: SlackBot;
  /** Base URL of the Fastify server mounting the bot's endpoint. */
  url: string;
  /** Signs and POSTs an Events API body; returns the HTTP answer. */
  post(body: unknown, options?: SignOptions): Promise<{ status: number; body: string; ms: number }>;
  /**
   * Signs and POSTs an interactivity payload (a button press) as Slack does: form-encoded, its JSON
   * in the `payload` field, to the same `/slack/events`.
   */
  interact(payload: unknown, options?: SignOptions): Promise<{ status: number; body: string }>;
  /** Wraps `event` in an `event_callback` envelope and posts it. */
  deliver(event: Record<string, unknown>, options?: SignOptions & { eventId?: string; teamId?: string }): Promise<{ status: number; eventId: string }>;
  close(): Promise<void>;
}

export interface SignOptions {
  secret?: string;
  /** Seconds since the epoch the request claims to be signed at. */
  timestamp?: number;
  headers?: Record<string, string>;
}

export interface HarnessOptions {
  updateIntervalMs?: number;
  threads?: SlackThreads;
  slack?: FakeSlackApi;
  /** The core the bot talks to; the recording `FakeNubabel` when absent. */
  port?: NubabelPort;
  /** A `FakeNubabel` shared with another harness (one core, two bots: a restart or a second instance). */
  nubabel?: FakeNubabel;
  queuePollMs?: number;
  handOverGraceMs?: number;
  /** The approvals domain the bot decides through (none by default). */
  approvals?: ApprovalDecider;
  /** How often, and after how long, unposted approval messages are posted (30 s and 20 s by default). */
  approvalRecovery?: { intervalMs: number; graceMs: number };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const slack = options.slack ?? (await startFakeSlackApi(TEAM));
  const nubabel = options.nubabel ?? new FakeNubabel();
  const links = new MemorySlackLinks();
  links.link(TEAM, ORG);
  const threads = options.threads ?? new MemorySlackThreads();
  const bot = createSlackBot({
    botToken: "xoxb-test-token",
    signingSecret: SECRET,
    slackApiUrl: slack.url,
    ports: { links, threads, dedupe: new Webhooks.MemoryReplayGuard(), nubabel: options.port ?? nubabel, ...(options.approvals ? { approvals: options.approvals } : {}) },
    logger: pino({ level: process.env.SLACK_TEST_LOG ?? "silent" }),
    updateIntervalMs: options.updateIntervalMs ?? 200,
    queuePollMs: options.queuePollMs ?? 100,
    handOverGraceMs: options.handOverGraceMs ?? 300,
    ...(options.approvalRecovery ? { approvalRecovery: options.approvalRecovery } : {}),
  });
  // As main.ts does with `runs.onFinished`: answers nobody here waits for are handed over.
  if (!options.port) nubabel.onFinished((run) => bot.handOver(run));
  await bot.start();
  const app: FastifyInstance = Fastify();
  // A sibling JSON route: the bot's raw-body parsers must stay inside its own plugin.
  app.post("/echo", async (request) => ({ parsed: request.body }));
  await app.register(bot.fastifyPlugin);
  await app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

  const post: Harness["post"] = async (body, sign = {}) => {
    const raw = typeof body === "string" ? body : JSON.stringify(body);
    const timestamp = sign.timestamp ?? Math.floor(Date.now() / 1000);
    const started = Date.now();
    const res = await fetch(`${url}/slack/events`, {
      method: "POST",
      headers: { "content-type": "application/json", ...signatureHeaders(raw, timestamp, sign.secret), ...sign.headers },
      body: raw,
    });
    return { status: res.status, body: await res.text(), ms: Date.now() - started };
  };

  return {
    slack,
    nubabel,
    links,
    threads,
    bot,
    url,
    post,
    async interact(payload, sign = {}) {
      const raw = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
      const timestamp = sign.timestamp ?? Math.floor(Date.now() / 1000);
      const res = await fetch(`${url}/slack/events`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...signatureHeaders(raw, timestamp, sign.secret), ...sign.headers },
        body: raw,
      });
      return { status: res.status, body: await res.text() };
    },
    async deliver(event, opts = {}) {
      const eventId = opts.eventId ?? `Ev${randomUUID().replace(/-/g, "").slice(0, 12).toUpperCase()}`;
      const teamId = opts.teamId ?? TEAM;
      const res = await post(
        { type: "event_callback", team_id: teamId, api_app_id: "A0000APP", event_id: eventId, event_time: Math.floor(Date.now() / 1000), event, authorizations: [{ team_id: teamId, user_id: BOT_USER_ID, is_bot: true }] },
        opts,
      );
      return { status: res.status, eventId };
    },
    async close() {
      await app.close();
      await bot.stop(500);
      if (!options.slack) await slack.close();
    },
  };
}

/** Slack's request signature: `v0=` + HMAC-SHA256 of `v0:<timestamp>:<raw body>` under the signing secret. */
export function signatureHeaders(raw: string, timestamp: number, secret = SECRET): Record<string, string> {
  const signature = `v0=${createHmac("sha256", secret).update(`v0:${timestamp}:${raw}`).digest("hex")}`;
  return { "x-slack-signature": signature, "x-slack-request-timestamp": String(timestamp) };
}

let tsSeq = 0;
/** A fresh message ts, as Slack writes them. */
export function ts(): string {
  return `${1_800_000_000 + ++tsSeq}.${String(tsSeq).padStart(6, "0")}`;
}

export function mention(text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "app_mention", user: USER, text: `<@${BOT_USER_ID}> ${text}`, ts: ts(), channel: CHANNEL, ...extra };
}

export function threadMessage(threadTs: string, text: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "message", channel_type: "channel", user: USER, text, ts: ts(), thread_ts: threadTs, channel: CHANNEL, ...extra };
}

/** A `block_actions` payload: `user` pressed the button `actionId` of `message` (as the fake Web API keeps it). */
export function buttonPress(message: StoredMessage, actionId: string, options: { user?: string; teamId?: string } = {}): Record<string, unknown> {
  const teamId = options.teamId ?? TEAM;
  const user = options.user ?? USER;
  const button = (message.blocks ?? []).flatMap((b: { elements?: Array<{ action_id: string }> }) => b.elements ?? []).find((e) => e.action_id === actionId) as
    | { action_id: string; value?: string; text: unknown }
    | undefined;
  if (!button) throw new Error(`message ${message.ts} has no ${actionId} button`);
  return {
    type: "block_actions",
    team: { id: teamId, domain: "test" },
    user: { id: user, username: "person", name: "person", team_id: teamId },
    api_app_id: "A0000APP",
    token: "unused-verification-token",
    container: { type: "message", message_ts: message.ts, channel_id: message.channel, is_ephemeral: false, thread_ts: message.threadTs },
    trigger_id: "1.2.3",
    channel: { id: message.channel, name: "general" },
    message: { type: "message", user: BOT_USER_ID, ts: message.ts, thread_ts: message.threadTs, text: message.text, blocks: message.blocks },
    actions: [{ type: "button", action_id: button.action_id, block_id: "b", text: button.text, value: button.value, action_ts: String(Date.now() / 1000) }],
  };
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function until<T>(check: () => T | undefined | false, timeoutMs = 5_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Posts `event` to a Nubabel's `/slack/events` as Slack would (enveloped and signed); returns the status. */
export async function deliverTo(nubabelUrl: string, event: Record<string, unknown>, options: { team: string; signingSecret: string }): Promise<number> {
  const body = JSON.stringify({
    type: "event_callback",
    team_id: options.team,
    api_app_id: "A0APP",
    event_id: `Ev${randomUUID().replace(/-/g, "").slice(0, 12)}`,
    event_time: Math.floor(Date.now() / 1000),
    event,
    authorizations: [{ team_id: options.team, user_id: BOT_USER_ID, is_bot: true }],
  });
  const res = await fetch(`${nubabelUrl}/slack/events`, {
    method: "POST",
    body,
    headers: { "content-type": "application/json", ...signatureHeaders(body, Math.floor(Date.now() / 1000), options.signingSecret) },
  });
  return res.status;
}
