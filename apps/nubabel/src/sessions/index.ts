export * as Sessions from "./sessions.js";
export type { Session, SessionStore, Message, State } from "./sessions.js";
export { SessionNotFound } from "./errors.js";
