import { afterEach, describe, expect, it } from "vitest";
import { event, FakeNubabel, response } from "./fake-nubabel.js";
import { startFakeSlackApi, type FakeSlackApi } from "./fake-slack-api.js";
import { CHANNEL, mention, startHarness, threadMessage, until, type Harness } from "./harness.js";

/** A gate a scripted turn waits on until the test opens it. */
function gate(): { wait: Promise<void>; open(): void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => (open = resolve));
  return { wait, open };
}

describe("Slack turns as durable runs", () => {
  const open: Harness[] = [];
  let slack: FakeSlackApi | undefined;
  afterEach(async () => {
    for (const h of open.splice(0)) await h.close();
    await slack?.close();
    slack = undefined;
  });
  const start = async (options: Parameters<typeof startHarness>[0] = {}) => {
    const h = await startHarness(options);
    open.push(h);
    return h;
  };

  it("shows a queued run's place in line until it starts, then its progress and answer", async () => {
    const h = await start();
    h.nubabel.maxRunning = 1;
    const first = gate();
    h.nubabel.script = async (turn, { emit }) => {
      if (turn.prompt === "busy") await first.wait;
      emit(event({ type: "status", data: { status: "busy", message: "Reading" } }));
      await new Promise((r) => setTimeout(r, 400));
      return response(turn, `done: ${turn.prompt}`);
    };
    const a = mention("busy");
    await h.deliver(a);
    await until(() => h.nubabel.started.length === 1);
    const b = mention("waiting");
    await h.deliver(b);
    const waiting = await until(() => h.slack.thread(CHANNEL, b.ts as string).find((m) => m.text.includes("number 1 in line")), 5_000, "the place in line");
    expect(waiting.text).toContain("Waiting for a free slot");
    first.open();
    await until(() => h.slack.thread(CHANNEL, b.ts as string).some((m) => m.text === "done: waiting"), 5_000, "the answer");
    // The waiting message became the progress message, then the answer: one message in the thread.
    expect(h.slack.thread(CHANNEL, b.ts as string)).toHaveLength(1);
    const texts = h.slack.callsOf("chat.update").filter((u) => u.args.ts === waiting.ts).map((u) => u.args.text as string);
    expect(texts.some((t) => t.includes(":hourglass_flowing_sand:"))).toBe(true);
  });

  it("says plainly that the organization's queue is full (429 RunQueueFull)", async () => {
    const h = await start();
    h.nubabel.submitError = Object.assign(new Error("this organization already has 108 unfinished runs (8 running, 100 waiting)"), {
      name: "RunQueueFull",
      data: { running: 8, queued: 100, limit: 100, retryAfterSeconds: 5 },
    });
    const root = mention("one more");
    await h.deliver(root);
    const reply = await until(() => h.slack.thread(CHANNEL, root.ts as string)[0], 5_000, "the reply");
    expect(reply.text).toContain("already has 108 requests running or waiting");
    expect(reply.text).toContain("try again in a few minutes");
  });

  it("`stop` says nothing was running when nothing was, and stops a queued first turn", async () => {
    const h = await start();
    const root = mention("quick");
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.startsWith("Answer to")), 5_000, "the answer");
    await h.deliver(threadMessage(root.ts as string, "stop"));
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Nothing is running")), 5_000, "nothing to stop");
    expect(h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("Stopping"))).toBe(false);

    // A first turn still waiting for a slot ends without running, and says so.
    h.nubabel.maxRunning = 0;
    const other = mention("never starts");
    await h.deliver(other);
    await until(() => h.slack.thread(CHANNEL, other.ts as string).some((m) => m.text.includes("Waiting for a free slot")), 5_000, "waiting");
    await h.deliver(threadMessage(other.ts as string, "stop"));
    const texts = await until(() => {
      const t = h.slack.thread(CHANNEL, other.ts as string).map((m) => m.text);
      return t.some((x) => x.includes("Cancelled before it started")) && t.some((x) => x.includes("Stopping the running task")) ? t : undefined;
    }, 5_000, "cancelled");
    expect(texts).toHaveLength(2);
    expect(h.nubabel.started.map((t) => t.prompt)).toEqual(["quick"]);
  });

  it("hands a run nobody waits for (its instance restarted) to its thread once, editing the stored progress message", async () => {
    slack = await startFakeSlackApi();
    const nubabel = new FakeNubabel();
    const turn = gate();
    nubabel.script = async (t) => {
      await turn.wait;
      return response(t, "the answer after the restart");
    };
    const before = await startHarness({ slack, nubabel });
    const root = mention("long job");
    await before.deliver(root);
    const progress = await until(() => slack!.thread(CHANNEL, root.ts as string)[0], 5_000, "the progress message");
    await until(() => nubabel.progressMessages.size === 1, 5_000, "the stored progress message");
    await before.close();
    expect(slack.thread(CHANNEL, root.ts as string)[0]!.text).toContain("the answer will follow here");

    // Two instances come up; neither waits for the run. Both hear it ended; one hands it over.
    const [a, b] = [await start({ slack, nubabel }), await start({ slack, nubabel })];
    turn.open();
    await until(() => slack!.thread(CHANNEL, root.ts as string)[0]!.text === "the answer after the restart", 5_000, "the answer");
    await until(() => nubabel.claims.length === 2, 5_000, "both claims");
    expect(nubabel.claims.filter((c) => c.granted)).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 200));
    const thread = slack.thread(CHANNEL, root.ts as string);
    expect(thread).toEqual([expect.objectContaining({ ts: progress.ts, text: "the answer after the restart" })]);
    expect(slack.callsOf("chat.update").filter((u) => u.args.text === "the answer after the restart")).toHaveLength(1);
    expect([a, b].length).toBe(2);
  });

  it("posts the answer as a new message when the run's progress message was never stored", async () => {
    slack = await startFakeSlackApi();
    const h = await start({ slack });
    // As if the run was submitted by an instance that died before posting its progress message.
    const run = await h.nubabel.submit({
      organizationId: "org_x",
      sessionId: "ses_orphan",
      prompt: "orphan",
      userId: "slack:T:U",
      origin: { kind: "slack", teamId: "T", channelId: CHANNEL, threadTs: "1799999999.000100", userId: "U" },
    });
    await until(() => slack!.thread(CHANNEL, "1799999999.000100").length === 1, 5_000, "the handed-over answer");
    expect(slack.thread(CHANNEL, "1799999999.000100")[0]!.text).toBe("Answer to *orphan*");
    expect(h.nubabel.claims).toEqual([{ runId: run.id, granted: true }]);
  });

  it("a waiting turn that loses the claim leaves the message to whoever won it", async () => {
    const h = await start({ handOverGraceMs: 60_000 });
    const turn = gate();
    h.nubabel.script = async (t) => {
      await turn.wait;
      return response(t, "written elsewhere");
    };
    const root = mention("contested");
    await h.deliver(root);
    const progress = await until(() => h.slack.thread(CHANNEL, root.ts as string)[0], 5_000, "the progress message");
    // Another instance claimed the answer (it will write it); this one must not touch the message.
    expect(await h.nubabel.claimDelivery(h.nubabel.runs[0]!.run.id)).toBe(true);
    const updatesBefore = h.slack.callsOf("chat.update").length;
    turn.open();
    await until(() => h.nubabel.claims.length === 2, 5_000, "the waiter's claim");
    expect(h.nubabel.claims[1]!.granted).toBe(false);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.slack.callsOf("chat.update")).toHaveLength(updatesBefore);
    expect(h.slack.thread(CHANNEL, root.ts as string)).toEqual([expect.objectContaining({ ts: progress.ts })]);
    expect(h.slack.thread(CHANNEL, root.ts as string)[0]!.text).not.toContain("written elsewhere");
  });
});
