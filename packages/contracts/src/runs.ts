import { z } from "zod";
import { Approval } from "./approvals.js";
import { RunId, SessionId } from "./ids.js";
import { ContextRestored, ErrorInfo, Name, Prompt, RunState, Usage, UserId } from "./sidecar.js";

/**
 * `POST /api/delegate` body: a prompt for a session (a new one when `sessionId` is absent, the
 * caller's own id created on first use). Strict: a misspelt `sessionID` would otherwise start a
 * new conversation without a word.
 */
export const ApiDelegateRequest = z.strictObject({
  prompt: Prompt,
  sessionId: SessionId.optional(),
  category: Name.optional(),
  load_skills: z.array(Name).max(20).optional(),
  userId: UserId.optional(),
});
export type ApiDelegateRequest = z.infer<typeof ApiDelegateRequest>;

/**
 * A run's state as the API shows it: the lifecycle's states, and `waiting_approval` while a running
 * run's tool call waits for a person.
 */
export const ApiRunState = z.enum([...RunState.options, "waiting_approval"]);
export type ApiRunState = z.infer<typeof ApiRunState>;

/** A run as Nubabel's API shows it (`GET /api/runs/:runId`, `GET /api/sessions/:id/runs`). */
export const ApiRun = z.object({
  id: RunId,
  sessionId: SessionId,
  status: ApiRunState,
  /** Why a run failed or was aborted, in words a person can act on. */
  reason: z.string().optional(),
  output: z.string().optional(),
  error: ErrorInfo.optional(),
  usage: Usage.optional(),
  /** Set when the run started a new OpenCode session seeded with the conversation's history. */
  contextRestored: ContextRestored.optional(),
  /** 1 for the next run of the organization to start; present while queued. */
  queuePosition: z.number().int().positive().optional(),
  category: z.string().optional(),
  skills: z.array(z.string()).optional(),
  userId: z.string().optional(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  /** The run's approvals, oldest first (`GET /api/runs/:runId` only; absent when it has none). */
  approvals: z.array(Approval).optional(),
});
export type ApiRun = z.infer<typeof ApiRun>;

/** `202` of `POST /api/delegate` with `Prefer: respond-async`. */
export const ApiRunAccepted = z.object({
  runId: RunId,
  sessionId: SessionId,
  status: RunState,
  links: z.object({ run: z.string(), stream: z.string() }),
});
export type ApiRunAccepted = z.infer<typeof ApiRunAccepted>;

/** `GET /api/sessions/:id/runs`. */
export const ApiRunList = z.object({ runs: z.array(ApiRun) });
export type ApiRunList = z.infer<typeof ApiRunList>;

/** `POST /api/runs/:runId/abort`. */
export const ApiRunAbort = z.object({ id: RunId, status: RunState });
export type ApiRunAbort = z.infer<typeof ApiRunAbort>;
