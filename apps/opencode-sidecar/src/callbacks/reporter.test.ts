import pino from "pino";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { CallbackReceiver } from "../../test/receiver.js";
import { CallbackClient } from "./client.js";
import { Outbox } from "./outbox.js";
import { SessionReporter } from "./reporter.js";

describe("SessionReporter", () => {
  const secret = Webhooks.generateSecret();
  let receiver: CallbackReceiver;
  beforeAll(async () => {
    receiver = await CallbackReceiver.start(secret);
  });
  afterAll(() => receiver.close());

  const make = (sessionId: string, interval: number, batchMs = 0) =>
    new SessionReporter(
      { opencodeSessionId: "ses_x", nubabelSessionId: sessionId, organizationId: "org_a", directory: "/tmp", callbacks: receiver.callbacks(sessionId), callbackToken: "tok" },
      new CallbackClient({ secret, timeoutMs: 2_000, retries: 2 }),
      new Outbox(new CallbackClient({ secret, timeoutMs: 2_000, retries: 0 }), pino({ level: "silent" }), { initialDelayMs: 20 }),
      { textIntervalMs: interval, batchMs },
      pino({ level: "silent" }),
    );

  it("coalesces text, keeps order, signs every post and always delivers the terminal event", async () => {
    const reporter = make("s1", 10_000);
    reporter.progress({ type: "status", data: { status: "busy" } });
    for (let i = 1; i <= 50; i++) reporter.progress({ type: "message_updated", data: { text: "x".repeat(i) } });
    reporter.progress({ type: "completed", data: { status: "success", output: "done" } });
    reporter.update("completed");
    await reporter.drained();
    const events = receiver.progress("s1");
    expect(events.map((e) => e.type)).toEqual(["status", "message_updated", "message_updated", "completed"]);
    // The first text goes at once, the rest waits and only the latest survives.
    expect(events.map((e) => (e.type === "message_updated" ? e.data.text.length : 0))).toEqual([0, 1, 50, 0]);
    expect(events.map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(receiver.updates("s1")).toEqual(["completed"]);
    expect(receiver.received.every((r) => r.signatureError === undefined && r.token === "tok")).toBe(true);
  });

  it("sends what piles up during a callback in one request, in order, and a lone event in the seed's shape", async () => {
    const reporter = make("s9", 0);
    for (let i = 0; i < 30; i++) reporter.progress({ type: "tool_started", data: { tool: "bash", callId: `c${i}`, input: {} } });
    reporter.progress({ type: "completed", data: { status: "success", output: "done" } });
    await reporter.drained();
    const posts = receiver.received.filter((r) => r.path.includes("/s9/progress"));
    expect(posts[0]!.body).toHaveProperty("progress");
    expect(posts.length).toBeLessThan(5);
    expect(posts.slice(1).every((p) => Array.isArray(p.body.events))).toBe(true);
    expect(receiver.progress("s9").map((e) => e.seq)).toEqual([...Array(31).keys()]);
    expect(receiver.progress("s9").at(-1)!.type).toBe("completed");
  });

  it("with a batch window, sends the events of the window in one request, and a lone one once the window closes", async () => {
    const reporter = make("s8", 0, 1_000);
    reporter.progress({ type: "tool_started", data: { tool: "bash", callId: "c1", input: {} } });
    await sleep(20);
    reporter.progress({ type: "tool_completed", data: { tool: "bash", callId: "c1" } });
    expect(receiver.received.filter((r) => r.path.includes("/s8/"))).toEqual([]);
    await vi.waitFor(() => expect(receiver.received.filter((r) => r.path.includes("/s8/"))).toHaveLength(1), { timeout: 4_000, interval: 20 });
    expect(receiver.received.find((r) => r.path.includes("/s8/"))!.body).toEqual({ events: receiver.progress("s8") });
    expect(receiver.progress("s8").map((e) => [e.type, e.seq])).toEqual([
      ["tool_started", 0],
      ["tool_completed", 1],
    ]);
    reporter.progress({ type: "status", data: { status: "busy" } });
    await reporter.drained();
    expect(receiver.received.filter((r) => r.path.includes("/s8/")).at(-1)!.body).toHaveProperty("progress.type", "status");
  });

  it("retries a 5xx, and gives up on a dead receiver without stalling", async () => {
    const reporter = make("s2", 0);
    receiver.failNext = 1;
    reporter.progress({ type: "completed", data: { status: "success", output: "ok" } });
    await reporter.drained();
    const posts = receiver.received.filter((r) => r.path.includes("/s2/"));
    expect(posts).toHaveLength(2); // the 503, then the retry
    expect(receiver.progress("s2")).toHaveLength(2);
    expect(new Set(receiver.progress("s2").map((e) => e.seq))).toEqual(new Set([0]));

    const dead = new SessionReporter(
      {
        opencodeSessionId: "ses_y",
        nubabelSessionId: "s3",
        organizationId: "org_a",
        directory: "/tmp",
        callbacks: { sessionUpdate: "http://127.0.0.1:9/u", progress: "http://127.0.0.1:9/p", mcpInvoke: "http://127.0.0.1:9/i" },
      },
      new CallbackClient({ secret, timeoutMs: 200, retries: 1 }),
      new Outbox(new CallbackClient({ secret, timeoutMs: 200, retries: 0 }), pino({ level: "silent" })),
      { textIntervalMs: 0 },
      pino({ level: "silent" }),
    );
    dead.progress({ type: "completed", data: { status: "success", output: "" } });
    await expect(dead.drained()).resolves.toBeUndefined();
  });

  it("with a runResult callback, ends a run with its result after its progress, and no terminal event", async () => {
    const binding = { opencodeSessionId: "ses_r", nubabelSessionId: "s4", organizationId: "org_a", directory: "/tmp", callbacks: receiver.callbacks("s4", { runResult: true }), callbackToken: "tok" };
    const client = new CallbackClient({ secret, timeoutMs: 2_000, retries: 0 });
    const reporter = new SessionReporter(binding, client, new Outbox(client, pino({ level: "silent" }), { initialDelayMs: 10 }), { textIntervalMs: 0 }, pino({ level: "silent" }));
    reporter.progress({ type: "status", data: { status: "busy" }, runId: "run_r" });
    const result = { runId: "run_r", opencodeSessionId: "ses_r", status: "completed" as const, output: "ok", durationMs: 1, finishedAt: new Date().toISOString() };
    reporter.end(result, { type: "completed", data: { status: "success", output: "ok" }, runId: "run_r" });
    await reporter.drained();
    const paths = receiver.received.filter((r) => r.path.includes("/s4/")).map((r) => r.path.split("/").at(-1));
    expect(paths).toEqual(["progress", "result"]);
    expect(receiver.results("run_r")[0]).toMatchObject({ body: result, token: "tok" });
  });

  it("sends the progress still waiting when a run ends with its result, in order, in one request", async () => {
    const binding = { opencodeSessionId: "ses_t", nubabelSessionId: "s5", organizationId: "org_a", directory: "/tmp", callbacks: receiver.callbacks("s5", { runResult: true }), callbackToken: "tok" };
    const client = new CallbackClient({ secret, timeoutMs: 2_000, retries: 0 });
    const reporter = new SessionReporter(binding, client, new Outbox(client, pino({ level: "silent" }), { initialDelayMs: 10 }), { textIntervalMs: 0 }, pino({ level: "silent" }));
    // The first event goes at once; the two after it wait for that request, then the run ends.
    reporter.progress({ type: "status", data: { status: "busy" }, runId: "run_t" });
    reporter.progress({ type: "tool_started", data: { tool: "read", callId: "call_1" }, runId: "run_t" });
    reporter.progress({ type: "message_updated", data: { text: "done" }, runId: "run_t" });
    const result = { runId: "run_t", opencodeSessionId: "ses_t", status: "completed" as const, output: "done", durationMs: 1, finishedAt: new Date().toISOString() };
    reporter.end(result, { type: "completed", data: { status: "success", output: "done" }, runId: "run_t" });
    await reporter.drained();
    const received = receiver.received.filter((r) => r.path.includes("/s5/"));
    expect(received.map((r) => r.path.split("/").at(-1))).toEqual(["progress", "result"]);
    const sent = receiver.results("run_t")[0]!.body as typeof result & { events: Array<{ type: string; seq: number }> };
    expect(sent.events.map((e) => [e.type, e.seq])).toEqual([
      ["tool_started", 1],
      ["message_updated", 2],
    ]);
    expect(sent).toMatchObject(result);
  });
});
