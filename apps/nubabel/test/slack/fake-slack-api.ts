import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

/** One Web API call as the fake received it. */
export interface ApiCall {
  method: string;
  args: Record<string, any>;
  /** When it arrived (ms), for timing assertions. */
  at: number;
  /** The status the fake answered. */
  status: number;
}

export interface StoredMessage {
  channel: string;
  ts: string;
  threadTs?: string;
  text: string;
  /** Block Kit blocks, as Slack keeps them: an update naming none leaves them, `[]` removes them. */
  blocks?: any[];
}

/** A message shown to one person only (`chat.postEphemeral`). */
export interface EphemeralMessage {
  channel: string;
  user: string;
  threadTs?: string;
  text: string;
}

/**
 * A local stand-in for Slack's Web API (`https://slack.com/api/<method>`), reached by Bolt's
 * WebClient through `clientOptions.slackApiUrl`: a real HTTP server that records every call, keeps
 * posted messages (updates applied) and can answer 429 with `Retry-After`.
 */
export interface FakeSlackApi {
  /** Base URL to pass as `slackApiUrl`. */
  url: string;
  calls: ApiCall[];
  messages: Map<string, StoredMessage>;
  ephemerals: EphemeralMessage[];
  /** When set, `auth.test` fails with this Slack error (`invalid_auth`, …). */
  authError?: string;
  /** The next `times` calls of `method` answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, times: number, retryAfterSeconds: number): void;
  /** The next `times` `chat.postMessage` calls whose arguments `match` fail (`internal_error`), posting nothing. */
  failPosts(match: (args: Record<string, any>) => boolean, times: number): void;
  /** Messages of a thread (root excluded), in posting order, with their current text. */
  thread(channel: string, threadTs: string): StoredMessage[];
  callsOf(method: string): ApiCall[];
  close(): Promise<void>;
}

export const BOT_USER_ID = "UBOT000001";
export const BOT_ID = "BBOT000001";

export async function startFakeSlackApi(teamId = "T0000LINKED"): Promise<FakeSlackApi> {
  const calls: ApiCall[] = [];
  const messages = new Map<string, StoredMessage>();
  const ephemerals: EphemeralMessage[] = [];
  const limits = new Map<string, { times: number; retryAfter: number }>();
  const failing: Array<{ match: (args: Record<string, any>) => boolean; times: number }> = [];
  let clock = 1_700_000_000;
  let seq = 0;
  const nextTs = () => `${clock++}.${String(++seq).padStart(6, "0")}`;

  const answer = (method: string, args: Record<string, any>): Record<string, unknown> => {
    switch (method) {
      case "auth.test":
        if (fake.authError) return { ok: false, error: fake.authError };
        return { ok: true, user_id: BOT_USER_ID, bot_id: BOT_ID, team_id: teamId, user: "nubabel", team: "Test" };
      case "chat.postMessage": {
        const failure = failing.find((f) => f.times > 0 && f.match(args));
        if (failure) {
          failure.times--;
          return { ok: false, error: "internal_error" };
        }
        const ts = nextTs();
        const blocks = blocksOf(args);
        messages.set(ts, { channel: args.channel, ts, threadTs: args.thread_ts, text: args.text ?? "", ...(blocks?.length ? { blocks } : {}) });
        return { ok: true, channel: args.channel, ts, message: { text: args.text, ts } };
      }
      case "chat.update": {
        const m = messages.get(args.ts);
        if (!m || m.channel !== args.channel) return { ok: false, error: "message_not_found" };
        m.text = args.text ?? "";
        const blocks = blocksOf(args);
        if (blocks) m.blocks = blocks.length ? blocks : undefined;
        return { ok: true, channel: args.channel, ts: args.ts, text: args.text };
      }
      case "chat.postEphemeral":
        ephemerals.push({ channel: args.channel, user: args.user, threadTs: args.thread_ts, text: args.text ?? "" });
        return { ok: true, message_ts: nextTs() };
      case "conversations.replies": {
        const m = messages.get(args.ts);
        return { ok: true, messages: m ? [{ ts: m.threadTs ?? m.ts, thread_ts: m.threadTs ?? m.ts }] : [] };
      }
      case "reactions.add":
      case "reactions.remove":
        return { ok: true };
      default:
        return { ok: false, error: "unknown_method" };
    }
  };

  const server = createServer(async (req, res) => {
    const method = (req.url ?? "").replace(/^\/api\//, "").split("?")[0] ?? "";
    const args = await readArgs(req);
    const limit = limits.get(method);
    if (limit && limit.times > 0) {
      limit.times -= 1;
      calls.push({ method, args, at: Date.now(), status: 429 });
      res.writeHead(429, { "retry-after": String(limit.retryAfter), "content-type": "application/json" });
      res.end(JSON.stringify({ ok: false, error: "ratelimited" }));
      return;
    }
    calls.push({ method, args, at: Date.now(), status: 200 });
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer(method, args)));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  const fake: FakeSlackApi = {
    url: `http://127.0.0.1:${port}/api/`,
    calls,
    messages,
    ephemerals,
    rateLimit: (method, times, retryAfter) => void limits.set(method, { times, retryAfter }),
    failPosts: (match, times) => void failing.push({ match, times }),
    thread: (channel, threadTs) => [...messages.values()].filter((m) => m.channel === channel && m.threadTs === threadTs),
    callsOf: (method) => calls.filter((c) => c.method === method),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

/** `blocks` as sent: a JSON string in a form-encoded call, an array in a JSON one; undefined when absent. */
function blocksOf(args: Record<string, any>): any[] | undefined {
  const blocks: unknown = args.blocks;
  if (blocks === undefined) return undefined;
  return typeof blocks === "string" ? JSON.parse(blocks) : (blocks as any[]);
}

/** The action ids of a message's buttons, in order (none for a plain message). */
export function buttonsOf(message: StoredMessage | undefined): string[] {
  return (message?.blocks ?? []).filter((b) => b.type === "actions").flatMap((b) => (b.elements ?? []).map((e: { action_id: string }) => e.action_id));
}

/** The WebClient posts form-encoded arguments (JSON for some methods); both are accepted. */
async function readArgs(req: IncomingMessage): Promise<Record<string, any>> {
  let raw = "";
  for await (const chunk of req) raw += chunk;
  if ((req.headers["content-type"] ?? "").includes("application/json")) return raw ? JSON.parse(raw) : {};
  return Object.fromEntries(new URLSearchParams(raw));
}
