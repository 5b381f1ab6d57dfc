export * as Sessions from "./sessions.js";
export * as SessionCursor from "./cursor.js";
export type { Session, SessionStore, Message, State, Position } from "./sessions.js";
export { SessionCursorInvalid, SessionNotFound } from "./errors.js";
