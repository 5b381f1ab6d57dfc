import { afterEach, describe, expect, it } from "vitest";
import { event, response } from "./fake-nubabel.js";
import { CHANNEL, mention, ORG, startHarness, TEAM, threadMessage, until, USER, type Harness } from "./harness.js";

class Unavailable extends Error {
  override readonly name = "SidecarUnavailable";
}

describe("a turn in Slack", () => {
  let h: Harness;
  afterEach(async () => {
    await h.close();
  });

  it("keeps progress updates within the per-message budget during a burst of 200 events, and shows the last state", async () => {
    const interval = 250;
    h = await startHarness({ updateIntervalMs: interval });
    h.nubabel.script = async (turn, { emit }) => {
      for (let i = 0; i < 200; i++) {
        emit(event({ type: "tool_started", data: { tool: `tool_${i}`, callId: `c${i}` } }));
        await new Promise((r) => setTimeout(r, 7));
      }
      // Quiet for two intervals, so the last state has time to be shown before the answer.
      await new Promise((r) => setTimeout(r, interval * 2 + 100));
      return response(turn, "burst done");
    };
    const root = mention("do many things");
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text === "burst done"), 10_000, "the answer");

    const post = h.slack.callsOf("chat.postMessage")[0]!;
    const updates = h.slack.callsOf("chat.update");
    const progress = updates.slice(0, -1);
    expect(updates.at(-1)!.args.text).toBe("burst done");
    const elapsed = progress.at(-1)!.at - post.at;
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(elapsed / interval) + 1);
    // Coalesced, not queued: the last progress shown is the last event, not an old one.
    expect(progress.at(-1)!.args.text).toContain("tool_199");
  });

  it("waits out a 429 from chat.update (Retry-After) and the update still lands before the answer", async () => {
    h = await startHarness({ updateIntervalMs: 100 });
    h.slack.rateLimit("chat.update", 1, 1);
    h.nubabel.script = async (turn, { emit }) => {
      emit(event({ type: "tool_started", data: { tool: "github_search", callId: "c1" } }));
      await new Promise((r) => setTimeout(r, 300));
      return response(turn, "answer after the rate limit");
    };
    const root = mention("search github");
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text === "answer after the rate limit"), 10_000, "the answer");

    const updates = h.slack.callsOf("chat.update");
    const limited = updates.find((u) => u.status === 429)!;
    expect(limited.args.text).toContain("github_search");
    const retried = updates.find((u) => u.status === 200 && u.args.text === limited.args.text)!;
    expect(retried).toBeDefined();
    expect(retried.at - limited.at).toBeGreaterThanOrEqual(1_000);
    // The answer is the last write: the delayed update did not overwrite it.
    expect(updates.at(-1)!.args.text).toBe("answer after the rate limit");
    expect(updates.indexOf(retried)).toBeLessThan(updates.length - 1);
  });

  it("starts the work while a rate-limited progress post is still waiting, and the answer still replaces that message", async () => {
    h = await startHarness();
    h.slack.rateLimit("chat.postMessage", 1, 2);
    let delegatedAt = 0;
    h.nubabel.script = async (turn) => {
      delegatedAt = Date.now();
      return response(turn, "fast answer");
    };
    const root = mention("hurry");
    const sent = Date.now();
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text === "fast answer"), 10_000, "the answer");
    expect(delegatedAt - sent).toBeLessThan(1_000);
    // One message: the progress message, replaced by the answer once it could be posted.
    expect(h.slack.thread(CHANNEL, root.ts as string)).toHaveLength(1);
    const posts = h.slack.callsOf("chat.postMessage");
    expect(posts.map((p) => p.status)).toEqual([429, 200]);
    expect(posts[1]!.at - posts[0]!.at).toBeGreaterThanOrEqual(2_000);
  });

  it("stops the running turn on `stop` in the thread and says so", async () => {
    h = await startHarness();
    h.nubabel.script = async (turn, { aborted }) => {
      await aborted;
      return response(turn, "", "aborted");
    };
    const root = mention("a long job");
    await h.deliver(root);
    await until(() => h.nubabel.delegations.length === 1);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).length === 1, 5_000, "the progress message");
    await h.deliver(threadMessage(root.ts as string, "stop"));

    await until(() => h.nubabel.aborts.length === 1, 5_000, "the abort");
    expect(h.nubabel.aborts[0]).toEqual({ organizationId: ORG, sessionId: h.nubabel.delegations[0]!.sessionId });
    const texts = await until(() => {
      const t = h.slack.thread(CHANNEL, root.ts as string).map((m) => m.text);
      return t.some((x) => x.includes("Stopped before finishing")) && t.some((x) => x.includes("Stopping the running task")) ? t : undefined;
    }, 5_000, "the stop messages");
    expect(texts).toHaveLength(2);
    // `stop` is a command, not a prompt.
    expect(h.nubabel.delegations).toHaveLength(1);
  });

  it("drops the turns queued behind the running one on `stop`", async () => {
    h = await startHarness();
    h.nubabel.script = async (turn, { aborted }) => {
      await aborted;
      return response(turn, "", "aborted");
    };
    const root = mention("first");
    await h.deliver(root);
    await until(() => h.nubabel.delegations.length === 1);
    await h.deliver(threadMessage(root.ts as string, "second"));
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("this one is next")), 5_000, "queued notice");
    await h.deliver(threadMessage(root.ts as string, "stop"));
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Cancelled before it started")), 5_000, "cancelled");
    await new Promise((r) => setTimeout(r, 100));
    expect(h.nubabel.delegations.map((d) => d.prompt)).toEqual(["first", "second"]);
    expect(h.nubabel.started.map((d) => d.prompt)).toEqual(["first"]);
    expect(h.nubabel.runs.map((r) => r.run.status)).toEqual(["aborted", "aborted"]);
  });

  it("on shutdown, says the answer of a turn still running will follow (the run goes on)", async () => {
    h = await startHarness();
    h.nubabel.script = () => new Promise(() => undefined);
    const root = mention("never ends");
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).length === 1, 5_000, "progress message");
    await h.bot.stop(100);
    const [only] = h.slack.thread(CHANNEL, root.ts as string);
    expect(only!.text).toContain("the answer will follow here");
    // Not claimed: whoever hands the answer over later (after the restart) edits this message.
    expect(h.nubabel.claims).toEqual([]);
    expect(h.nubabel.progressMessages.get(h.nubabel.runs[0]!.run.id)).toBe(only!.ts);
  });

  it("stops on an :x: reaction on the progress message; a reaction on an older message reaches the thread through Slack", async () => {
    h = await startHarness();
    h.nubabel.script = async (turn, { aborted }) => {
      if (turn.prompt === "wait") {
        await aborted;
        return response(turn, "", "aborted");
      }
      return response(turn, "quick");
    };
    const root = mention("quick");
    await h.deliver(root);
    const old = await until(() => h.slack.thread(CHANNEL, root.ts as string).find((m) => m.text === "quick"), 5_000, "the first answer");
    await h.deliver(threadMessage(root.ts as string, "wait"));
    const progress = await until(() => h.slack.thread(CHANNEL, root.ts as string)[1], 5_000, "the second progress message");
    await h.deliver({ type: "reaction_added", user: USER, reaction: "x", item: { type: "message", channel: CHANNEL, ts: progress.ts }, event_ts: "1.1" });
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Stopped before finishing")), 5_000, "stopped");
    expect(h.nubabel.aborts).toHaveLength(1);

    // The first answer is not a running turn's message: the bot asks Slack which thread it is in.
    await h.deliver({ type: "reaction_added", user: USER, reaction: "x", item: { type: "message", channel: CHANNEL, ts: old.ts }, event_ts: "1.2" });
    await until(() => h.nubabel.aborts.length === 2, 5_000, "second abort");
    expect(h.slack.callsOf("conversations.replies")).toHaveLength(1);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Nothing is running")), 5_000, "nothing to stop");
    // Other reactions do nothing.
    await h.deliver({ type: "reaction_added", user: USER, reaction: "thumbsup", item: { type: "message", channel: CHANNEL, ts: old.ts }, event_ts: "1.3" });
    await new Promise((r) => setTimeout(r, 150));
    expect(h.nubabel.aborts).toHaveLength(2);
  });

  it("says in plain words, within seconds, that the worker is unreachable", async () => {
    h = await startHarness();
    h.nubabel.script = async () => {
      await new Promise((r) => setTimeout(r, 20));
      throw new Unavailable("sidecar unavailable");
    };
    const root = mention("anything");
    const sent = Date.now();
    await h.deliver(root);
    const msg = await until(() => h.slack.thread(CHANNEL, root.ts as string).find((m) => m.text.includes("can't reach my worker")), 3_000, "the outage message");
    expect(Date.now() - sent).toBeLessThan(3_000);
    expect(msg.text).toContain("try again in a minute");
    // It replaced the progress message rather than leaving it spinning.
    expect(h.slack.thread(CHANNEL, root.ts as string)).toHaveLength(1);
  });

  it("reports an unexpected failure with a reference, and a failed run with its reason", async () => {
    h = await startHarness();
    h.nubabel.script = async (turn) => {
      if (turn.prompt === "boom") throw new TypeError("x is undefined");
      return { ...response(turn, "half an answer", "error"), error: { code: "provider_error", message: "the model provider refused the request" } };
    };
    const a = mention("boom");
    await h.deliver(a);
    const crashed = await until(() => h.slack.thread(CHANNEL, a.ts as string).find((m) => m.text.includes("Something went wrong")), 5_000, "crash message");
    expect(crashed.text).toMatch(/reference `slk_[0-9a-f]{8}`/);
    expect(crashed.text).not.toContain("x is undefined");

    const b = mention("fail politely");
    await h.deliver(b);
    const failed = await until(() => h.slack.thread(CHANNEL, b.ts as string).find((m) => m.text.includes("couldn't finish")), 5_000, "failure message");
    expect(failed.text).toContain("the model provider refused the request");
    expect(failed.text).toContain("half an answer");
  });

  it("treats a direct message as addressed to the bot", async () => {
    h = await startHarness();
    const dm = { type: "message", channel_type: "im", channel: "D0000DM", user: USER, text: "hi there", ts: "1800000999.000001" };
    await h.deliver(dm);
    await until(() => h.nubabel.delegations.length === 1, 5_000, "the delegation");
    expect(h.nubabel.delegations[0]).toMatchObject({ prompt: "hi there", userId: `slack:${TEAM}:${USER}` });
  });
});
