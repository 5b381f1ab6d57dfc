import type { Usage } from "@nubabel/contracts";

/** What one model step (an assistant message) reports, in the engine's shape. */
export interface StepUsage {
  tokens: { input: number; output: number; reasoning: number; cache?: { read?: number; write?: number } };
  cost: number;
}

export function emptyUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, reasoningTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, cost: 0 };
}

/** Adds one model step to `usage` (in place). */
export function addStep(usage: Usage, step: StepUsage): void {
  usage.inputTokens += count(step.tokens.input);
  usage.outputTokens += count(step.tokens.output);
  usage.reasoningTokens += count(step.tokens.reasoning);
  usage.cacheReadTokens += count(step.tokens.cache?.read);
  usage.cacheWriteTokens += count(step.tokens.cache?.write);
  usage.cost += Number.isFinite(step.cost) && step.cost > 0 ? step.cost : 0;
}

export function addUsage(a: Usage, b: Usage): Usage {
  return {
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    reasoningTokens: a.reasoningTokens + b.reasoningTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
    cost: a.cost + b.cost,
  };
}

/** A token count as the contract wants it: a whole, non-negative number (providers differ). */
function count(n: number | undefined): number {
  return typeof n === "number" && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}
