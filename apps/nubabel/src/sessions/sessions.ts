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
 * Durable sessions and their message history. `ensure` is race-safe: concurrent calls for one id
 * create it once and all see the same row, whoever owns it.
 */
export interface SessionStore {
  ensure(input: { id: string; organizationId: string; userId?: string }): Promise<Session>;
  get(id: string): Promise<Session | undefined>;
  setState(id: string, state: State): Promise<void>;
  /** `createdAt` defaults to now. */
  addMessage(sessionId: string, message: Omit<Message, "createdAt"> & { createdAt?: Date }): Promise<void>;
  messages(sessionId: string): Promise<Message[]>;
}

/**
 * The session a caller may use: a new one when `id` is absent, the caller's own id created on first
 * use, and `SessionNotFound` for another organization's (the same answer as for a missing one, so
 * ids of other organizations cannot be probed).
 */
export async function open(
  store: SessionStore,
  organizationId: string,
  id: string | undefined,
  userId?: string,
): Promise<Session> {
  const session = await store.ensure({ id: id ?? Ids.create(Ids.Prefix.session), organizationId, userId });
  if (session.organizationId !== organizationId) throw new SessionNotFound(session.id);
  return session;
}

/** An existing session of `organizationId`, or `SessionNotFound`. */
export async function get(store: SessionStore, organizationId: string, id: string): Promise<Session> {
  const session = await store.get(id);
  if (!session || session.organizationId !== organizationId) throw new SessionNotFound(id);
  return session;
}

/** A new message id. */
export function messageId(): string {
  return Ids.create(Ids.Prefix.message);
}
