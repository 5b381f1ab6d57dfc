import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { createSlackBot, MemorySlackLinks, MemorySlackThreads } from "../../src/slack/index.js";
import { FakeNubabel } from "./fake-nubabel.js";

describe("Socket Mode", () => {
  it("is chosen when an app token is given, and connects nothing until start()", async () => {
    const bot = createSlackBot({
      botToken: "xoxb-test",
      signingSecret: "unused-in-socket-mode",
      appToken: "xapp-1-A000-000-test",
      // Nothing listens here: any call during construction would fail the test's clean exit.
      slackApiUrl: "http://127.0.0.1:9/api/",
      ports: { links: new MemorySlackLinks(), threads: new MemorySlackThreads(), dedupe: new Webhooks.MemoryReplayGuard(), nubabel: new FakeNubabel() },
      logger: pino({ level: "silent" }),
    });
    expect(bot.mode).toBe("socket");
    await bot.stop(10);
  });

  it("uses HTTP mode without an app token", () => {
    const bot = createSlackBot({
      botToken: "xoxb-test",
      signingSecret: "s",
      ports: { links: new MemorySlackLinks(), threads: new MemorySlackThreads(), dedupe: new Webhooks.MemoryReplayGuard(), nubabel: new FakeNubabel() },
      logger: pino({ level: "silent" }),
    });
    expect(bot.mode).toBe("http");
  });
});
