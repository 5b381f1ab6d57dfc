import { Ids, type SessionState } from "@nubabel/contracts";
import { SessionNotFound } from "./errors.js";

/** The seed's session `state`: which OpenCode session backs it and how its last run went. */
export interface State {
  opencodeSessionId: string | null;
  status: SessionState;
}

export interface Session {
  id: string;
  organizationId: string;
  userId: string | null;
  state: State;
  createdAt: Date;
  updatedAt: Date;
}

export interface Message {
  id: string;
  role: "user" | "assistant";
  content: string;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

/**
 * Durable sessions and their message history, keyed by (organization, id) everywhere: two
 * organizations may use the same caller-chosen id without ever meeting. `ensure` is race-safe:
 * concurrent calls for one key create it once and all see the same row.
 */
export interface SessionStore {
  ensure(input: { id: string; organizationId: string; userId?: string }): Promise<Session>;
  get(organizationId: string, id: string): Promise<Session | undefined>;
  setState(organizationId: string, id: string, state: State): Promise<void>;
  /** `createdAt` defaults to now. */
  addMessage(organizationId: string, sessionId: string, message: Omit<Message, "createdAt"> & { createdAt?: Date }): Promise<void>;
  messages(organizationId: string, sessionId: string): Promise<Message[]>;
  /** The organization's sessions, newest first (`createdAt`, then `id`, descending), from after `after` on. */
  list(organizationId: string, options: { limit: number; after?: Position }): Promise<Session[]>;
}

/** Where a page of `list` ends: its last session's creation time (to the millisecond) and id. */
export interface Position {
  createdAt: Date;
  id: string;
}

/** The session a caller may use: a new one when `id` is absent, the caller's own id created on first use. */
export async function open(
  store: SessionStore,
  organizationId: string,
  id: string | undefined,
  userId?: string,
): Promise<Session> {
  return store.ensure({ id: id ?? Ids.create(Ids.Prefix.session), organizationId, userId });
}

/** An existing session of `organizationId`, or `SessionNotFound`. */
export async function get(store: SessionStore, organizationId: string, id: string): Promise<Session> {
  const session = await store.get(organizationId, id);
  if (!session) throw new SessionNotFound(id);
  return session;
}

/** A new message id. */
export function messageId(): string {
  return Ids.create(Ids.Prefix.message);
}
