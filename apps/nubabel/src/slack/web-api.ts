import type { App } from "@slack/bolt";

/** The Slack Web API calls the bot makes, so conversations can be driven without Bolt. */
export interface SlackApi {
  /** Posts in the thread; resolves with the new message's `ts`. */
  post(channelId: string, threadTs: string, text: string): Promise<string>;
  update(channelId: string, ts: string, text: string): Promise<void>;
  /** The thread a message belongs to (its own `ts` for a top-level message), or `undefined`. */
  threadOf(channelId: string, ts: string): Promise<string | undefined>;
}

/** `SlackApi` over Bolt's WebClient (its retries and timeouts are set in `bot.ts`). */
export function webApi(app: App): SlackApi {
  return {
    async post(channel, threadTs, text) {
      const res = await app.client.chat.postMessage({ channel, thread_ts: threadTs, text, unfurl_links: false, unfurl_media: false });
      if (!res.ts) throw new Error("chat.postMessage answered without a ts");
      return res.ts;
    },
    async update(channel, ts, text) {
      await app.client.chat.update({ channel, ts, text });
    },
    async threadOf(channel, ts) {
      const res = await app.client.conversations.replies({ channel, ts, limit: 1 });
      const first = res.messages?.[0];
      return first?.thread_ts ?? first?.ts;
    },
  };
}
