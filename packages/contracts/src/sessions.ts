import { z } from "zod";
import { SessionId } from "./ids.js";
import { queryInt } from "./text.js";
import { SessionState } from "./callbacks.js";

/** One message of a session's history as Nubabel's API shows it. */
export const ApiMessage = z.object({
  id: z.string(),
  role: z.enum(["user", "assistant"]),
  content: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.iso.datetime(),
});
export type ApiMessage = z.infer<typeof ApiMessage>;

/** `GET /api/sessions/:sessionId`: the session, which OpenCode session backs it, and its history, oldest first. */
export const ApiSession = z.object({
  id: SessionId,
  organizationId: z.string(),
  userId: z.string().nullable(),
  state: z.object({ opencodeSessionId: z.string().nullable(), status: SessionState }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
  messages: z.array(ApiMessage),
});
export type ApiSession = z.infer<typeof ApiSession>;

/** `POST /api/sessions/:sessionId/abort`: `aborted` is false when nothing was running or queued. */
export const ApiSessionAbort = z.object({ sessionId: SessionId, aborted: z.boolean() });
export type ApiSessionAbort = z.infer<typeof ApiSessionAbort>;

/**
 * `POST /api/sessions/:sessionId/stream-token`: a short-lived token for one session's SSE stream,
 * for browsers' EventSource (which cannot send an Authorization header); `url` carries it.
 */
export const StreamToken = z.object({ token: z.string(), expiresAt: z.iso.datetime(), url: z.string() });
export type StreamToken = z.infer<typeof StreamToken>;

/** `GET /api/sessions` query: `limit` (50 by default, at most 200), `cursor` the previous page's `nextCursor`. */
export const SessionListQuery = z.strictObject({
  limit: queryInt(1, 200).optional(),
  cursor: z.string().max(200).optional(),
});
export type SessionListQuery = z.infer<typeof SessionListQuery>;

/** One session as `GET /api/sessions` lists it: `ApiSession` without its history. */
export const ApiSessionSummary = ApiSession.omit({ messages: true });
export type ApiSessionSummary = z.infer<typeof ApiSessionSummary>;

/** `GET /api/sessions`: the organization's sessions, newest first; `nextCursor` is set while more follow. */
export const ApiSessionList = z.object({ sessions: z.array(ApiSessionSummary), nextCursor: z.string().optional() });
export type ApiSessionList = z.infer<typeof ApiSessionList>;
