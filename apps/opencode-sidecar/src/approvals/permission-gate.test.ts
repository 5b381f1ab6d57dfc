import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { PermissionAsked } from "@nubabel/contracts";
import type { PermissionAsk } from "../engine/events.js";
import { EngineDownError, EngineTimeoutError } from "../engine/engine.js";
import { createLogger } from "../logger.js";
import { type GatedRun, PermissionGate, type PermissionEngine } from "./permission-gate.js";

const GATED = new Set(["bash", "edit", "webfetch", "nubabel_mcp"]);

function ask(extra: Partial<PermissionAsk> = {}): PermissionAsk {
  return { sessionId: "ses_a", requestId: `per_${Math.random()}`, directory: "/w", permission: "bash", patterns: ["ls"], metadata: {}, callId: "call_1", ...extra };
}

describe("PermissionGate", () => {
  let replies: Array<{ requestId: string; reply: string; message?: string }>;
  let reported: PermissionAsked[];
  let run: GatedRun | "unbound" | undefined;
  let pending: PermissionAsk[];
  let gate: PermissionGate;
  /** The next replyPermission fails with this, once. */
  let replyFails: Error | undefined;
  const engine: PermissionEngine = {
    replyPermission: async (requestId, _dir, reply, message) => {
      const failure = replyFails;
      replyFails = undefined;
      if (failure) throw failure;
      replies.push({ requestId, reply, ...(message !== undefined ? { message } : {}) });
      return true;
    },
    toolCall: async (_session, _dir, callId) =>
      callId === "call_patch" ? { tool: "apply_patch", input: { patchText: "x", token: "t" } } : callId === "call_bash" ? { tool: "bash", input: { command: "ls" } } : undefined,
    pendingPermissions: async () => pending,
  };

  beforeEach(() => {
    vi.useFakeTimers();
    replies = [];
    reported = [];
    pending = [];
    replyFails = undefined;
    run = { runId: "run_1", approvals: { match: ["edit", "gh/*"], timeoutMs: 5_000 }, report: (a) => reported.push(a) };
    gate = new PermissionGate({ engine, runOf: async () => run, directories: () => ["/w"], gated: GATED, log: createLogger("silent") });
  });
  afterEach(() => vi.useRealTimers());

  it("refuses an ask with no delegation behind it, or of a permission it does not gate", async () => {
    run = "unbound";
    await gate.handle(ask({ requestId: "per_1" }));
    run = { runId: "run_1", report: () => undefined };
    await gate.handle(ask({ requestId: "per_2", permission: "read" }));
    expect(replies).toEqual([
      { requestId: "per_1", reply: "reject", message: '"bash" is not allowed in a Nubabel session' },
      { requestId: "per_2", reply: "reject", message: '"read" is not allowed in a Nubabel session' },
    ]);
  });

  it("refuses an ask it cannot decide (the session behind it could not be read), so the turn does not wait for nothing", async () => {
    gate = new PermissionGate({ engine, runOf: () => Promise.reject(new EngineTimeoutError("the engine did not answer within 15000 ms")), directories: () => ["/w"], gated: GATED, log: createLogger("silent") });
    await gate.handle(ask({ requestId: "per_1" }));
    expect(replies).toEqual([{ requestId: "per_1", reply: "reject", message: '"bash" could not be checked: the engine did not answer within 15000 ms' }]);
  });

  it("keeps a held call pending when the engine did not take the decision, and says so, so it can be sent again", async () => {
    await gate.handle(ask({ requestId: "per_1", permission: "edit", callId: "call_patch" }));
    replyFails = new EngineTimeoutError("the engine did not answer within 15000 ms");
    await expect(gate.reply("run_1", "per_1", { reply: "once" })).rejects.toBeInstanceOf(EngineDownError);
    expect(gate.waiting).toBe(1);
    expect(await gate.reply("run_1", "per_1", { reply: "once" })).toBe(true);
    expect(replies).toEqual([{ requestId: "per_1", reply: "once" }]);
    expect(gate.waiting).toBe(0);
  });

  it("lets an uncovered call run at once", async () => {
    await gate.handle(ask({ requestId: "per_1", callId: "call_bash" }));
    expect(replies).toEqual([{ requestId: "per_1", reply: "once" }]);
    expect(reported).toEqual([]);
  });

  it("holds a covered call, reports it with the tool's redacted input, and takes one decision", async () => {
    await gate.handle(ask({ requestId: "per_1", permission: "edit", callId: "call_patch" }));
    expect(reported).toEqual([{ requestId: "per_1", tool: "apply_patch", arguments: { patchText: "x", token: "[redacted]" }, callId: "call_patch" }]);
    expect(replies).toEqual([]);
    expect(await gate.reply("run_other", "per_1", { reply: "once" })).toBe(false);
    expect(await gate.reply("run_1", "per_1", { reply: "reject" })).toBe(true);
    expect(await gate.reply("run_1", "per_1", { reply: "once" })).toBe(false);
    expect(replies).toEqual([{ requestId: "per_1", reply: "reject", message: "denied: a person refused this tool call" }]);
    vi.advanceTimersByTime(10_000);
    expect(replies).toHaveLength(1);
  });

  it("judges a call whose tool is not found by its permission: edit covers a write rule", async () => {
    run = { runId: "run_1", approvals: { match: ["write"], timeoutMs: 5_000 }, report: (a) => reported.push(a) };
    await gate.handle(ask({ requestId: "per_1", permission: "edit", callId: "call_gone", patterns: ["a.txt"], metadata: { filepath: "a.txt" } }));
    expect(reported).toEqual([{ requestId: "per_1", tool: "edit", arguments: { filepath: "a.txt", patterns: ["a.txt"] }, callId: "call_gone" }]);
  });

  it("refuses a held call nobody answers in time, and drops a run's asks when it ends", async () => {
    await gate.handle(ask({ requestId: "per_1", permission: "nubabel_mcp", patterns: ["gh/create"], metadata: { provider: "gh", toolName: "create", args: { a: 1 } } }));
    expect(reported[0]).toMatchObject({ tool: "create", provider: "gh", arguments: { a: 1 } });
    vi.advanceTimersByTime(5_000);
    await vi.runAllTimersAsync();
    expect(replies).toEqual([{ requestId: "per_1", reply: "reject", message: "denied: nobody answered within 5 seconds" }]);
    await gate.handle(ask({ requestId: "per_2", permission: "edit" }));
    gate.forgetRun("run_1");
    expect(gate.waiting).toBe(0);
    expect(await gate.reply("run_1", "per_2", { reply: "once" })).toBe(false);
  });

  it("handles asks made while the event stream was down, once", async () => {
    const first = ask({ requestId: "per_1" });
    await gate.handle(first);
    pending = [first, ask({ requestId: "per_2" })];
    await gate.resync();
    expect(replies.map((r) => r.requestId)).toEqual(["per_1", "per_2"]);
  });
});
