import type { Event, PermissionRequest } from "@opencode-ai/sdk/v2";
import type { EngineEvent, ErrorInfo, PermissionAsk } from "./events.js";
import { stepOf } from "./turn-result.js";

export function errorInfo(err: { name: string; data?: unknown } | undefined): ErrorInfo {
  const message = (err?.data as { message?: unknown } | undefined)?.message;
  return { code: err?.name ?? "UnknownError", message: typeof message === "string" && message ? message : (err?.name ?? "unknown error") };
}

/**
 * Maps one engine event to ours, or undefined for the many kinds a run does not follow. Part of
 * the driver (it knows the SDK's event union) but kept apart so it can be tested without an engine.
 */
export function toEngineEvent(raw: Event, directory: string): EngineEvent | undefined {
  switch (raw.type) {
    case "session.status": {
      const { sessionID, status } = raw.properties;
      return {
        type: "status",
        sessionId: sessionID,
        status: status.type,
        ...(status.type === "retry" ? { attempt: status.attempt, message: status.message } : {}),
      };
    }
    case "session.created": {
      const info = raw.properties.info;
      return { type: "session", sessionId: info.id, title: info.title, ...(info.parentID ? { parentId: info.parentID } : {}) };
    }
    case "session.idle":
      return { type: "idle", sessionId: raw.properties.sessionID };
    case "session.error":
      return raw.properties.sessionID ? { type: "error", sessionId: raw.properties.sessionID, error: errorInfo(raw.properties.error) } : undefined;
    case "message.updated": {
      const info = raw.properties.info;
      if (info.role === "user") return { type: "message", sessionId: info.sessionID, messageId: info.id, role: "user", createdAt: info.time.created };
      return {
        type: "message",
        sessionId: info.sessionID,
        messageId: info.id,
        role: "assistant",
        ...(info.error ? { error: errorInfo(info.error) } : {}),
        step: stepOf(info),
      };
    }
    case "message.part.delta": {
      const p = raw.properties;
      return p.field === "text" ? { type: "text-delta", sessionId: p.sessionID, messageId: p.messageID, partId: p.partID, delta: p.delta } : undefined;
    }
    case "message.part.updated": {
      const part = raw.properties.part;
      if (part.type === "text" && !part.synthetic && !part.ignored) {
        return { type: "text", sessionId: part.sessionID, messageId: part.messageID, partId: part.id, text: part.text };
      }
      if (part.type !== "tool") return undefined;
      const state = part.state;
      return {
        type: "tool",
        sessionId: part.sessionID,
        callId: part.callID,
        tool: part.tool,
        status: state.status,
        ...(state.input && Object.keys(state.input).length ? { input: state.input } : {}),
        ...(state.status === "completed" ? { output: state.output } : {}),
        ...(state.status === "error" ? { error: state.error } : {}),
      };
    }
    case "permission.asked":
      return { type: "permission", ...toPermissionAsk(raw.properties, directory) };
    case "question.asked":
      return { type: "question", sessionId: raw.properties.sessionID, requestId: raw.properties.id, directory };
    default:
      return undefined;
  }
}

/** An engine permission request (from its event or its pending list) in our words. */
export function toPermissionAsk(request: PermissionRequest, directory: string): PermissionAsk {
  return {
    sessionId: request.sessionID,
    requestId: request.id,
    directory,
    permission: request.permission,
    patterns: request.patterns ?? [],
    metadata: request.metadata ?? {},
    ...(request.tool?.callID ? { callId: request.tool.callID } : {}),
  };
}
