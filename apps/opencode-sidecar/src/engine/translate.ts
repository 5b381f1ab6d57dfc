import type { EngineEvent } from "./events.js";

type Raw = { type: string; properties: unknown };

function errorInfo(err: unknown) {
  const e = err as { name?: string; data?: { message?: string } } | undefined;
  return { code: e?.name ?? "UnknownError", message: e?.data?.message || e?.name || "unknown error" };
}

/**
 * Maps one raw engine event to ours, or undefined for the many kinds a run does not follow.
 * Kept apart from the driver so it can be tested without an engine.
 */
export function toEngineEvent(raw: Raw, directory: string): EngineEvent | undefined {
  const p = raw.properties as Record<string, any>;
  switch (raw.type) {
    case "session.status": {
      const s = p.status as { type: "busy" | "idle" | "retry"; attempt?: number; message?: string };
      return {
        type: "status",
        sessionId: p.sessionID,
        status: s.type,
        ...(s.attempt !== undefined ? { attempt: s.attempt } : {}),
        ...(s.message ? { message: s.message } : {}),
      };
    }
    case "session.idle":
      return { type: "idle", sessionId: p.sessionID };
    case "session.error":
      return p.sessionID ? { type: "error", sessionId: p.sessionID, error: errorInfo(p.error) } : undefined;
    case "message.updated": {
      const info = p.info as { id: string; role: "user" | "assistant"; sessionID: string; error?: unknown };
      return {
        type: "message",
        sessionId: info.sessionID,
        messageId: info.id,
        role: info.role,
        ...(info.error ? { error: errorInfo(info.error) } : {}),
      };
    }
    case "message.part.delta":
      return p.field === "text"
        ? { type: "text-delta", sessionId: p.sessionID, messageId: p.messageID, partId: p.partID, delta: p.delta }
        : undefined;
    case "message.part.updated": {
      const part = p.part as Record<string, any>;
      if (part.type === "text" && !part.synthetic && !part.ignored) {
        return { type: "text", sessionId: part.sessionID, messageId: part.messageID, partId: part.id, text: part.text };
      }
      if (part.type === "tool") {
        const state = part.state as Record<string, any>;
        return {
          type: "tool",
          sessionId: part.sessionID,
          callId: part.callID,
          tool: part.tool,
          status: state.status,
          ...(state.input && Object.keys(state.input).length ? { input: state.input } : {}),
          ...(state.status === "completed" ? { output: String(state.output ?? "") } : {}),
          ...(state.status === "error" ? { error: String(state.error ?? "tool failed") } : {}),
        };
      }
      return undefined;
    }
    case "permission.asked":
      return { type: "permission", sessionId: p.sessionID, requestId: p.id, directory, permission: p.permission };
    case "question.asked":
      return { type: "question", sessionId: p.sessionID, requestId: p.id, directory };
    default:
      return undefined;
  }
}
