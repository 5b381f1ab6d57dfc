import type { App, types } from "@slack/bolt";

/** Block Kit blocks, as the bot sends them. */
export type Blocks = types.KnownBlock[];

/** The Slack Web API calls the bot makes, so conversations can be driven without Bolt. */
export interface SlackApi {
  /**
   * Posts in the thread; resolves with the new message's `ts`. With `blocks`, `text` is what
   * notifications and clients without Block Kit show.
   */
  post(channelId: string, threadTs: string, text: string, blocks?: Blocks): Promise<string>;
  /**
   * Makes the message exactly `text` and `blocks`: without `blocks` the message's earlier blocks
   * (buttons) are removed, since Slack keeps them when an update names none.
   */
  update(channelId: string, ts: string, text: string, blocks?: Blocks): Promise<void>;
  /** Shows `text` to one person only (in the thread when `threadTs` is set). */
  ephemeral(channelId: string, userId: string, text: string, threadTs?: string): Promise<void>;
  /** The thread a message belongs to (its own `ts` for a top-level message), or `undefined`. */
  threadOf(channelId: string, ts: string): Promise<string | undefined>;
}

/** Hears the bot's Web API calls (`method` is Slack's, e.g. `chat.update`) and its rate-limit waits. */
export interface SlackObserver {
  call(method: string, ok: boolean): void;
  /** `method`: Slack's method name, taken from the call's URL. */
  rateLimited(method: string, retryAfterSeconds: number): void;
}

/** `SlackApi` over Bolt's WebClient (its retries and timeouts are set in `bot.ts`). */
export function webApi(app: App, observe?: SlackObserver): SlackApi {
  const observed = async <T>(method: string, call: () => Promise<T>): Promise<T> => {
    if (!observe) return call();
    try {
      const result = await call();
      observe.call(method, true);
      return result;
    } catch (err) {
      observe.call(method, false);
      throw err;
    }
  };
  return {
    async post(channel, threadTs, text, blocks) {
      const res = await observed("chat.postMessage", () =>
        app.client.chat.postMessage({ channel, thread_ts: threadTs, text, ...(blocks ? { blocks } : {}), unfurl_links: false, unfurl_media: false }),
      );
      if (!res.ts) throw new Error("chat.postMessage answered without a ts");
      return res.ts;
    },
    async update(channel, ts, text, blocks = []) {
      await observed("chat.update", () => app.client.chat.update({ channel, ts, text, blocks }));
    },
    async ephemeral(channel, user, text, threadTs) {
      await observed("chat.postEphemeral", () => app.client.chat.postEphemeral({ channel, user, text, ...(threadTs ? { thread_ts: threadTs } : {}) }));
    },
    async threadOf(channel, ts) {
      const res = await observed("conversations.replies", () => app.client.conversations.replies({ channel, ts, limit: 1 }));
      const first = res.messages?.[0];
      return first?.thread_ts ?? first?.ts;
    },
  };
}
