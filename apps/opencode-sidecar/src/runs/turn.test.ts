import { describe, expect, it } from "vitest";
import type { EngineDriver } from "../engine/driver.js";
import { EngineTimeoutError } from "../engine/engine.js";
import type { EngineEvent } from "../engine/events.js";
import { emptyUsage } from "../engine/usage.js";
import { runTurn } from "./turn.js";

const SESSION = "ses_turn";

/** An event of the turn's session, as the test writes it (the session is filled in). */
type Unsessioned = EngineEvent extends infer E ? (E extends unknown ? Omit<E, "sessionId"> : never) : never;

/** The part of the driver a turn uses, scripted: events are pushed by the test, calls are counted. */
function scriptedDriver(options: { busy?: () => boolean; answerCreatedAt?: number; promptFails?: Error; readFails?: Error[] } = {}) {
  let listener: ((event: EngineEvent) => void) | undefined;
  const calls: string[] = [];
  const driver = {
    onSessionEvent: (_id: string, l: (event: EngineEvent) => void) => {
      listener = l;
      return () => (listener = undefined);
    },
    prompt: async () => {
      calls.push("prompt");
      if (options.promptFails) throw options.promptFails;
    },
    abort: async () => void calls.push("abort"),
    isBusy: async () => {
      calls.push("status");
      return options.busy?.() ?? false;
    },
    lastResult: async () => {
      calls.push("messages");
      const failure = options.readFails?.shift();
      if (failure) throw failure;
      return { text: "the answer", usage: emptyUsage(), model: "p/m", createdAt: options.answerCreatedAt ?? Date.now(), startedAt: Date.now() };
    },
    subagentUsage: async () => emptyUsage(),
  };
  const emit = (event: Unsessioned) => listener?.({ sessionId: SESSION, ...event } as EngineEvent);
  return { driver: driver as unknown as EngineDriver, calls, emit };
}

/** An assistant message (model step) answering `msg_user` unless told otherwise. */
const step = (o: { parentId?: string; createdAt: number; completed: boolean; input?: number; output?: number; cost?: number }) => ({
  parentId: o.parentId ?? "msg_user",
  model: "p/m",
  createdAt: o.createdAt,
  completed: o.completed,
  tokens: { input: o.input ?? 0, output: o.output ?? 0, reasoning: 0 },
  cost: o.cost ?? 0,
});

const start = (driver: EngineDriver) =>
  runTurn(driver, { sessionId: SESSION, directory: "/w", text: "hi", timeoutMs: 10_000, signal: new AbortController().signal }, () => undefined, () => () => undefined);

const tick = () => new Promise((r) => setTimeout(r, 5));

describe("a turn's end", () => {
  it("ends on this prompt's busy then idle with the answer the stream told, asking the engine nothing", async () => {
    const { driver, calls, emit } = scriptedDriver();
    const outcome = start(driver);
    await tick();
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    // Two model steps answering the prompt (a tool call, then the answer): usage sums them.
    emit({ type: "message", messageId: "msg_a1", role: "assistant", step: step({ createdAt: 1_001, completed: true, input: 10, output: 2, cost: 0.5 }) });
    emit({ type: "message", messageId: "msg_a2", role: "assistant", step: step({ createdAt: 1_002, completed: false, input: 0, output: 0, cost: 0 }) });
    emit({ type: "text-delta", messageId: "msg_a2", partId: "prt_1", delta: "Hel" });
    emit({ type: "text", messageId: "msg_a2", partId: "prt_1", text: "Hello there. " });
    emit({ type: "message", messageId: "msg_a2", role: "assistant", step: step({ createdAt: 1_002, completed: true, input: 12, output: 3, cost: 0.25 }) });
    emit({ type: "status", status: "idle" });
    emit({ type: "idle" });
    await expect(outcome).resolves.toEqual({
      status: "success",
      output: "Hello there.",
      model: "p/m",
      usage: { inputTokens: 22, outputTokens: 5, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cost: 0.75 },
    });
    expect(calls).toEqual(["prompt"]);
  });

  it("reads the answer from the engine when the stream did not show it complete", async () => {
    const { driver, calls, emit } = scriptedDriver();
    const outcome = start(driver);
    await tick();
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "message", messageId: "msg_a1", role: "assistant", step: step({ createdAt: 1_001, completed: false }) });
    emit({ type: "idle" });
    await expect(outcome).resolves.toMatchObject({ status: "success", output: "the answer" });
    expect(calls).toEqual(["prompt", "messages"]);
  });

  it("reads the answer from the engine when the last step answers another prompt", async () => {
    const { driver, calls, emit } = scriptedDriver();
    const outcome = start(driver);
    await tick();
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "message", messageId: "msg_a1", role: "assistant", step: step({ parentId: "msg_earlier", createdAt: 1_001, completed: true }) });
    emit({ type: "idle" });
    await expect(outcome).resolves.toMatchObject({ output: "the answer" });
    expect(calls).toEqual(["prompt", "messages"]);
  });

  it("asks the status for an idle that came before this prompt's user message (an earlier turn's)", async () => {
    let busy = true;
    const { driver, calls, emit } = scriptedDriver({ busy: () => busy });
    const outcome = start(driver);
    await tick();
    // An earlier turn still winding down: its busy and idle reach this turn first.
    emit({ type: "status", status: "busy" });
    emit({ type: "idle" });
    await tick();
    expect(calls).toEqual(["prompt", "status"]);
    busy = false;
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "idle" });
    await expect(outcome).resolves.toMatchObject({ status: "success", output: "the answer" });
    // The stale idle cost a status read; this turn's own idle did not (its answer was not in the stream).
    expect(calls).toEqual(["prompt", "status", "messages"]);
  });

  it("asks the engine after the event stream reconnected: the stream may have lost events", async () => {
    const { driver, calls, emit } = scriptedDriver({ busy: () => false });
    const outcome = start(driver);
    await tick();
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "message", messageId: "msg_a1", role: "assistant", step: step({ createdAt: 1_001, completed: true }) });
    emit({ type: "resync" });
    await expect(outcome).resolves.toMatchObject({ status: "success", output: "the answer" });
    expect(calls).toEqual(["prompt", "status", "messages"]);
  });

  it("asks again when a read of the turn's end timed out (a busy engine): the answer is not lost", async () => {
    const { driver, calls, emit } = scriptedDriver({ busy: () => false, readFails: [timedOut()] });
    const outcome = start(driver);
    await tick();
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "resync" });
    await expect(outcome).resolves.toMatchObject({ status: "success", output: "the answer" });
    expect(calls).toEqual(["prompt", "status", "messages", "status", "messages"]);
  });

  it("fails on a read that failed otherwise", async () => {
    const { driver, calls, emit } = scriptedDriver({ busy: () => false, readFails: [new Error("500 from the engine")] });
    const outcome = start(driver);
    await tick();
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "resync" });
    await expect(outcome).rejects.toThrow("500 from the engine");
    expect(calls).toEqual(["prompt", "status", "messages"]);
  });
});

describe("a turn's prompt", () => {
  it("fails, and stops the engine's turn, when the prompt's answer timed out: it may have arrived", async () => {
    const { driver, calls } = scriptedDriver({ promptFails: timedOut() });
    await expect(start(driver)).rejects.toThrow(/did not answer within/);
    await tick();
    expect(calls).toEqual(["prompt", "abort"]);
  });

  it("leaves the engine alone when the prompt's answer timed out after the turn was over", async () => {
    let answer: (err: Error) => void = () => undefined;
    const { driver, calls, emit } = scriptedDriver();
    (driver as unknown as { prompt: () => Promise<void> }).prompt = () => (calls.push("prompt"), new Promise<void>((_resolve, reject) => (answer = reject)));
    const outcome = start(driver);
    await tick();
    // The engine ran the turn while the prompt's own answer was slow to come.
    emit({ type: "message", messageId: "msg_user", role: "user", createdAt: 1_000 });
    emit({ type: "status", status: "busy" });
    emit({ type: "message", messageId: "msg_a1", role: "assistant", step: step({ createdAt: 1_001, completed: true }) });
    emit({ type: "text", messageId: "msg_a1", partId: "prt_1", text: "done" });
    emit({ type: "status", status: "idle" });
    emit({ type: "idle" });
    await expect(outcome).resolves.toMatchObject({ status: "success", output: "done" });
    answer(timedOut());
    await tick();
    expect(calls).toEqual(["prompt"]);
  });

  it("fails without stopping anything when the engine refused the prompt", async () => {
    const { driver, calls } = scriptedDriver({ promptFails: new Error("400 bad agent") });
    await expect(start(driver)).rejects.toThrow("400 bad agent");
    await tick();
    expect(calls).toEqual(["prompt"]);
  });
});

/** What a driver call rejects with once it ran out of `ENGINE_REQUEST_TIMEOUT_MS`. */
function timedOut(): Error {
  return new EngineTimeoutError("the engine did not answer within 15000 ms (ENGINE_REQUEST_TIMEOUT_MS)");
}
