import { SessionCursorInvalid } from "./errors.js";
import type { Position } from "./sessions.js";

/**
 * The opaque `nextCursor` of a page of sessions: the last session's position. Callers pass it back
 * unchanged; its form may change, so nothing outside this file reads it.
 */
export function encode(position: Position): string {
  return Buffer.from(`s1:${position.createdAt.getTime()}:${position.id}`).toString("base64url");
}

/** The position a cursor names; throws `SessionCursorInvalid` for anything `encode` did not make. */
export function decode(cursor: string): Position {
  const match = /^s1:(\d{1,15}):(.{1,200})$/s.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw new SessionCursorInvalid();
  return { createdAt: new Date(Number(match[1])), id: match[2]! };
}
