import type { DelegateResponse } from "@nubabel/contracts";
import { describe, expect, it } from "vitest";
import { answerMessages, failureMessage, MAX_PARTS, Replies } from "./replies.js";

const response = (status: DelegateResponse["status"], output: string, error?: DelegateResponse["error"]): DelegateResponse => ({
  status,
  output,
  error,
  metadata: { model: "m", opencodeSessionId: "ses_x" },
});

const named = (name: string, message = "boom") => Object.assign(new Error(message), { name });

describe("replies", () => {
  it("turns a success into mrkdwn, and an empty one into a visible note", () => {
    expect(answerMessages(response("success", "**done**"))).toEqual(["*done*"]);
    expect(answerMessages(response("success", "  "))[0]).toContain("without writing an answer");
  });

  it("says a stopped run stopped, keeping what it had", () => {
    const [text] = answerMessages(response("aborted", "half"));
    expect(text).toContain(Replies.stopped);
    expect(text).toContain("half");
  });

  it("gives a failed run's reason and what to do next", () => {
    const [text] = answerMessages(response("error", "", { code: "x", message: "the model provider refused" }));
    expect(text).toContain("the model provider refused");
    expect(text).toContain("try again");
  });

  it("maps the core's typed errors and raw network failures to plain words", () => {
    expect(failureMessage(named("SidecarUnavailable"), "r")).toContain("can't reach my worker");
    expect(failureMessage(new TypeError("fetch failed"), "r")).toContain("can't reach my worker");
    const full = Object.assign(named("RunQueueFull"), { data: { running: 8, queued: 100, limit: 100, retryAfterSeconds: 5 } });
    expect(failureMessage(full, "r")).toContain("already has 108 requests running or waiting");
    expect(failureMessage(named("SessionNotFound"), "r")).toContain("start a new thread");
    const broke = Object.assign(named("BudgetExceeded"), {
      data: { budget: { monthlyCost: 0.0001, monthlyTokens: 50_000 }, spent: { cost: 0.000123, tokens: 51_000 }, resetsAt: "2026-12-01T00:00:00.000Z" },
    });
    const budget = failureMessage(broke, "r");
    expect(budget).toContain("monthly budget (0.000123 of 0.0001 USD spent, 51,000 of 50,000 tokens used)");
    expect(budget).toContain("resets on December 1, 2026 (UTC)");
    expect(failureMessage(named("SidecarRejected", "unknown category <x>"), "r")).toContain("unknown category &lt;x&gt;");
    // Set up wrong (503): the operator's to fix, and its text (paths, variables) is not the asker's.
    const unset = Object.assign(named("SidecarRejected", "plugin not loaded from /srv/sidecar/node_modules"), { data: { status: 503, code: "plugin_not_loaded" } });
    expect(failureMessage(unset, "slk_9")).toContain("tell whoever runs Nubabel (reference `slk_9`)");
    expect(failureMessage(unset, "slk_9")).not.toContain("/srv/sidecar");
    const other = failureMessage(named("TypeError", "secret internals"), "slk_1234");
    expect(other).toContain("slk_1234");
    expect(other).not.toContain("secret internals");
  });
});

describe("very long answers", () => {
  it("post at most MAX_PARTS messages, the last saying the answer was cut", () => {
    const huge = Array.from({ length: 400 }, (_, i) => `Paragraph ${i} ${"word ".repeat(60)}`).join("\n\n");
    const parts = answerMessages(response("success", huge));
    expect(parts).toHaveLength(MAX_PARTS);
    expect(parts.at(-1)).toContain("too long for Slack");
    expect(parts[0]!.startsWith("Paragraph 0")).toBe(true);
  });
});
