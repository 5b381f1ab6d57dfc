import type { Usage } from "@nubabel/contracts";
import type { StepUsage } from "./usage.js";

/**
 * The engine's events in the sidecar's own words: what a run needs to follow one session.
 * Produced only by the driver, so nothing else depends on the SDK's event union.
 */
export interface ErrorInfo {
  /** The engine's error name (`APIError`, `MessageAbortedError`, …). */
  code: string;
  message: string;
}

export type EngineEvent =
  | { type: "status"; sessionId: string; status: "busy" | "idle" | "retry"; attempt?: number; message?: string }
  | { type: "idle"; sessionId: string }
  | { type: "error"; sessionId: string; error: ErrorInfo }
  | { type: "message"; sessionId: string; messageId: string; role: "user"; createdAt: number }
  | { type: "message"; sessionId: string; messageId: string; role: "assistant"; error?: ErrorInfo; step: AssistantStep }
  | { type: "text"; sessionId: string; messageId: string; partId: string; text: string }
  | { type: "text-delta"; sessionId: string; messageId: string; partId: string; delta: string }
  | {
      type: "tool";
      sessionId: string;
      callId: string;
      tool: string;
      status: "pending" | "running" | "completed" | "error";
      input?: unknown;
      output?: string;
      error?: string;
    }
  /** A session was created; a subagent's names its parent. */
  | { type: "session"; sessionId: string; parentId?: string; title: string }
  /** A tool call in a subagent's session, delivered to its top-most followed ancestor. */
  | { type: "subagent"; sessionId: string; subagent: string; event: Extract<EngineEvent, { type: "tool" }> }
  | ({ type: "permission" } & PermissionAsk)
  | { type: "question"; sessionId: string; requestId: string; directory: string }
  /** The stream was re-established: events in between are lost; followers must re-read state. */
  | { type: "resync" };

/** One model step as the engine's latest `message.updated` of an assistant message tells it. */
export interface AssistantStep extends StepUsage {
  /** The user message it answers. */
  parentId: string;
  model: string;
  createdAt: number;
  /** The engine has finished writing it (its last update). */
  completed: boolean;
}

/** An engine permission request (`permission.asked`), waiting for a reply. */
export interface PermissionAsk {
  sessionId: string;
  requestId: string;
  directory: string;
  permission: string;
  /** What the ask is about (a command, a path, `provider/tool`). */
  patterns: string[];
  metadata: Record<string, unknown>;
  /** The tool call that asks, when a tool does. */
  callId?: string;
}

/** A session's final assistant answer as stored by the engine. */
export interface TurnResult {
  text: string;
  /** Summed over every assistant message of the turn (each model step is one), its subagents' not included. */
  usage: Usage;
  error?: ErrorInfo;
  model: string;
  /** When the engine created that message (ms since the epoch). */
  createdAt: number;
  /** When the engine received the turn's user message (its clock, ms since the epoch): where its subagents' usage starts. */
  startedAt: number;
}
