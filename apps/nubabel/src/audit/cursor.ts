import { AuditCursorInvalid } from "./errors.js";

/**
 * The opaque `nextCursor` of an audit page: the position after which the next page starts. Callers
 * pass it back unchanged; its form may change, so nothing outside this file reads it.
 */
export function encode(seq: number): string {
  return Buffer.from(`a1:${seq}`).toString("base64url");
}

/** The position a cursor names; throws `AuditCursorInvalid` for anything `encode` did not make. */
export function decode(cursor: string): number {
  const match = /^a1:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!match) throw new AuditCursorInvalid();
  return Number(match[1]);
}
