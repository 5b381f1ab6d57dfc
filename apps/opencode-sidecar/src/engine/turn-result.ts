import type { AssistantMessage } from "@opencode-ai/sdk/v2";
import type { AssistantStep, ErrorInfo, TurnResult } from "./events.js";
import { addStep, emptyUsage } from "./usage.js";

/** An assistant message (one model step) in the sidecar's words, as an event or the engine's store gives it. */
export function stepOf(info: AssistantMessage): AssistantStep {
  return {
    parentId: info.parentID,
    tokens: info.tokens,
    cost: info.cost,
    model: `${info.providerID}/${info.modelID}`,
    createdAt: info.time.created,
    completed: info.time.completed !== undefined,
  };
}

/**
 * A turn's result, told by the event stream or read from the engine's store alike: the last step's
 * text, model and error; the usage of every step answering the same prompt (its subagents' not
 * included); and when the turn started, its prompt stored (`promptedAt`, when known) or its first
 * step, whichever came first.
 */
export function turnResult(last: AssistantStep, steps: Iterable<AssistantStep>, promptedAt: number | undefined, text: string, error?: ErrorInfo): TurnResult {
  const usage = emptyUsage();
  let startedAt = Math.min(last.createdAt, promptedAt ?? Infinity);
  for (const step of steps) {
    if (step.parentId !== last.parentId) continue;
    addStep(usage, step);
    startedAt = Math.min(startedAt, step.createdAt);
  }
  return { text, usage, model: last.model, createdAt: last.createdAt, startedAt, ...(error ? { error } : {}) };
}
