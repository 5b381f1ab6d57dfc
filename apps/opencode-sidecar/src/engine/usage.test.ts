import { describe, expect, it } from "vitest";
import { Usage } from "@nubabel/contracts";
import { addStep, addUsage, emptyUsage } from "./usage.js";

describe("usage sums", () => {
  it("counts a step's tokens and cost, and what a provider got wrong as nothing, so the contract holds", () => {
    const usage = emptyUsage();
    addStep(usage, { tokens: { input: 10, output: 2.6, reasoning: 1, cache: { read: 4, write: 5 } }, cost: 0.5 });
    addStep(usage, { tokens: { input: -3, output: Number.NaN, reasoning: Number.POSITIVE_INFINITY }, cost: Number.NaN });
    expect(usage).toEqual({ inputTokens: 10, outputTokens: 3, reasoningTokens: 1, cacheReadTokens: 4, cacheWriteTokens: 5, cost: 0.5 });
    expect(Usage.safeParse(usage).success).toBe(true);
  });

  it("adds a run's own usage and its subagents' field by field", () => {
    const a = { inputTokens: 1, outputTokens: 2, reasoningTokens: 3, cacheReadTokens: 4, cacheWriteTokens: 5, cost: 0.25 };
    expect(addUsage(a, a)).toEqual({ inputTokens: 2, outputTokens: 4, reasoningTokens: 6, cacheReadTokens: 8, cacheWriteTokens: 10, cost: 0.5 });
    expect(addUsage(a, emptyUsage())).toEqual(a);
  });
});
