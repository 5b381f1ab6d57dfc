import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { createSlackBot, MemorySlackLinks, MemorySlackThreads } from "../../src/slack/index.js";
import { FakeNubabel } from "./fake-nubabel.js";
import { startFakeSlackApi } from "./fake-slack-api.js";
import { mention, startHarness } from "./harness.js";

describe("bot lifecycle", () => {
  it("fails start() on a token Slack refuses, and a later start() may succeed", async () => {
    const slack = await startFakeSlackApi();
    try {
      slack.authError = "invalid_auth";
      const bot = createSlackBot({
        botToken: "xoxb-revoked",
        signingSecret: "s",
        slackApiUrl: slack.url,
        ports: { links: new MemorySlackLinks(), threads: new MemorySlackThreads(), dedupe: new Webhooks.MemoryReplayGuard(), nubabel: new FakeNubabel() },
        logger: pino({ level: "silent" }),
      });
      await expect(bot.start()).rejects.toThrow(/invalid_auth/);
      expect(bot.status()).toMatchObject({ mode: "http", ready: false, error: expect.stringContaining("invalid_auth") });
      slack.authError = undefined;
      await expect(bot.start()).resolves.toBeUndefined();
      expect(bot.status()).toEqual({ mode: "http", ready: true, botUserId: "UBOT000001", error: undefined });
      await bot.stop(10);
    } finally {
      await slack.close();
    }
  });

  it("refuses events with 503 once stopping, so Slack redelivers them to a running instance", async () => {
    const h = await startHarness();
    try {
      await h.bot.stop(10);
      const { status } = await h.deliver(mention("too late"));
      expect(status).toBe(503);
      await new Promise((r) => setTimeout(r, 100));
      expect(h.nubabel.delegations).toHaveLength(0);
    } finally {
      await h.close();
    }
  });
});
