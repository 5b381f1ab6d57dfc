import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MemorySlackThreads } from "../../src/slack/index.js";
import { response } from "./fake-nubabel.js";
import { BOT_ID, BOT_USER_ID, startFakeSlackApi } from "./fake-slack-api.js";
import { CHANNEL, mention, ORG, startHarness, TEAM, threadMessage, until, USER, type Harness } from "./harness.js";

describe("Slack threads are Nubabel sessions", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("posts a progress message in the thread, updates it, and replaces it with the answer", async () => {
    const root = mention("summarize my Notion tasks");
    const { status } = await h.deliver(root);
    expect(status).toBe(200);

    const answer = await until(() => h.slack.thread(CHANNEL, root.ts as string).find((m) => m.text.includes("Answer to")), 5_000, "the answer");
    const posts = h.slack.callsOf("chat.postMessage");
    expect(posts).toHaveLength(1);
    expect(posts[0]!.args).toMatchObject({ channel: CHANNEL, thread_ts: root.ts });
    expect(posts[0]!.args.text).toContain(":hourglass_flowing_sand:");
    const updates = h.slack.callsOf("chat.update");
    // The tool the agent used was shown before the answer replaced the message.
    expect(updates.some((u) => u.args.text.includes("notion › search"))).toBe(true);
    expect(updates.at(-1)!.args).toMatchObject({ channel: CHANNEL, ts: answer.ts });
    // Markdown's **bold** became Slack's *bold*; the bot's mention is not part of the prompt.
    expect(answer.text).toBe("Answer to *summarize my Notion tasks*");
    // The run carries where it came from, and the progress message once posted: an answer can
    // reach this thread from any instance, after a restart too.
    expect(h.nubabel.delegations).toEqual([
      {
        organizationId: ORG,
        sessionId: expect.stringMatching(/^ses_/),
        prompt: "summarize my Notion tasks",
        userId: `slack:${TEAM}:${USER}`,
        origin: { kind: "slack", teamId: TEAM, channelId: CHANNEL, threadTs: root.ts, messageTs: root.ts, userId: USER },
      },
    ]);
    const runId = h.nubabel.runs[0]!.run.id;
    expect(h.nubabel.progressMessages.get(runId)).toBe(answer.ts);
    expect(h.nubabel.claims).toEqual([{ runId, granted: true }]);
  });

  it("resumes the same session for a plain follow-up and for a later mention in the thread", async () => {
    const root = mention("summarize my Notion tasks");
    await h.deliver(root);
    await until(() => h.nubabel.delegations.length === 1 && h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Answer to")));

    await h.deliver(threadMessage(root.ts as string, "how many are urgent?"));
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("how many are urgent")), 5_000, "second answer");
    await h.deliver(mention("and which are overdue?", { thread_ts: root.ts }));
    await until(() => h.nubabel.delegations.length === 3, 5_000, "third delegation");

    const [first, second, third] = h.nubabel.delegations;
    expect(second!.sessionId).toBe(first!.sessionId);
    expect(third!.sessionId).toBe(first!.sessionId);
    expect(third!.prompt).toBe("and which are overdue?");
  });

  it("ignores its own messages, other bots, edits and threads it is not in", async () => {
    const root = mention("hello");
    await h.deliver(root);
    await until(() => h.nubabel.delegations.length === 1);
    await h.deliver(threadMessage(root.ts as string, "my own reply", { user: BOT_USER_ID }));
    await h.deliver(threadMessage(root.ts as string, "a bot", { bot_id: BOT_ID, subtype: "bot_message" }));
    await h.deliver(threadMessage(root.ts as string, "edited", { subtype: "message_changed" }));
    await h.deliver(threadMessage("1799999999.000001", "a thread the bot never joined"));
    await h.deliver(threadMessage(root.ts as string, `<@${BOT_USER_ID}> mention also sent as app_mention`));
    // A last, real follow-up: once it ran, everything before it was handled (or ignored).
    await h.deliver(threadMessage(root.ts as string, "real follow-up"));
    await until(() => h.nubabel.delegations.length >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.nubabel.delegations.map((d) => d.prompt)).toEqual(["hello", "real follow-up"]);
  });

  it("runs a thread's turns one after another, telling the second request it waits for the first", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    h.nubabel.script = async (turn) => {
      if (turn.prompt === "first") await gate;
      return response(turn, `done: ${turn.prompt}`);
    };
    const root = mention("first");
    await h.deliver(root);
    await until(() => h.nubabel.delegations.length === 1);
    await h.deliver(threadMessage(root.ts as string, "second"));
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("this one is next")), 5_000, "queued notice");
    // Accepted as a run at once, started only after the first (the core keeps a session's runs in order).
    expect(h.nubabel.delegations).toHaveLength(2);
    expect(h.nubabel.started).toHaveLength(1);
    release();
    await until(() => h.slack.thread(CHANNEL, root.ts as string).filter((m) => m.text.startsWith("done:")).length === 2, 5_000, "both answers");
    expect(h.slack.thread(CHANNEL, root.ts as string).map((m) => m.text)).toEqual(["done: first", "done: second"]);
  });

  it("splits a long answer: the first part replaces the progress message, the rest follow in order", async () => {
    const paragraphs = Array.from({ length: 12 }, (_, i) => `Paragraph ${i}: ${"word ".repeat(120).trim()}`);
    h.nubabel.script = async (turn) => response(turn, paragraphs.join("\n\n"));
    const root = mention("write a lot");
    await h.deliver(root);
    const parts = await until(() => {
      const msgs = h.slack.thread(CHANNEL, root.ts as string);
      return msgs.length >= 3 && msgs.at(-1)!.text.includes("Paragraph 11") ? msgs : undefined;
    }, 5_000, "all parts");
    expect(parts.every((m) => m.text.length <= 3_500)).toBe(true);
    expect(parts[0]!.text.startsWith("Paragraph 0:")).toBe(true);
    expect(parts.map((m) => m.text).join("\n\n")).toBe(paragraphs.join("\n\n"));
  });
});

describe("after a restart", () => {
  it("a follow-up in an old thread resumes its session (threads kept by the SlackThreads port)", async () => {
    const slack = await startFakeSlackApi(TEAM);
    const threads = new MemorySlackThreads();
    const before = await startHarness({ slack, threads });
    const root = mention("remember 42");
    await before.deliver(root);
    await until(() => before.nubabel.delegations.length === 1);
    const sessionId = before.nubabel.delegations[0]!.sessionId;
    await until(() => slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Answer to")));
    await before.close();

    const after = await startHarness({ slack, threads });
    try {
      await after.deliver(threadMessage(root.ts as string, "what number?"));
      await until(() => after.nubabel.delegations.length === 1, 5_000, "delegation after restart");
      expect(after.nubabel.delegations[0]!.sessionId).toBe(sessionId);
    } finally {
      await after.close();
      await slack.close();
    }
  });
});
