import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  ApiDelegateRequest,
  Capabilities,
  type ApiRun,
  type ApiRunAbort,
  type ApiRunAccepted,
  type ApiRunList,
  type ApiSession,
  type ApiSessionAbort,
  type ApiSessionList,
  type ApiSessionSummary,
  type DelegateResponse,
  SessionListQuery,
  type StreamToken,
} from "@nubabel/contracts";
import type { Logger } from "../../log/logger.js";
import { toApi, toDelegateResponse, viewRun, withWaiting } from "../../runs/index.js";
import { SessionCursor, Sessions, type Session } from "../../sessions/index.js";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse, parseQuery } from "../errors.js";
import { RunPath, SessionPath } from "../schemas.js";

/** RFC 7240: the caller asks for a 202 and a run to follow rather than waiting for the answer. */
function wantsAsync(request: FastifyRequest): boolean {
  const prefer = request.headers.prefer;
  const values = Array.isArray(prefer) ? prefer : prefer ? [prefer] : [];
  return values.some((v) => v.split(",").some((p) => p.trim().toLowerCase() === "respond-async"));
}

function summary(session: Session): ApiSessionSummary {
  return {
    id: session.id,
    organizationId: session.organizationId,
    userId: session.userId,
    state: session.state,
    createdAt: session.createdAt.toISOString(),
    updatedAt: session.updatedAt.toISOString(),
  };
}

/** The API for people and programs, authorized by an organization's API key. */
export function publicRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const authorize = (request: FastifyRequest) => authorizeApiKey(deps, request);

  // Every prompt becomes a run, stored before anything else happens. With `Prefer: respond-async`
  // the caller gets the run at once; without it the request waits for the answer, and a caller
  // that goes away meanwhile cancels nothing.
  app.post("/api/delegate", async (request, reply) => {
    const org = await authorize(request);
    const body = parse(ApiDelegateRequest, request.body);
    const log = request.log as Logger;
    const run = await deps.runs.submit({ organizationId: org.id, ...body }, log);
    if (wantsAsync(request)) {
      const accepted: ApiRunAccepted = {
        runId: run.id,
        sessionId: run.sessionId,
        status: run.status,
        links: { run: `/api/runs/${run.id}`, stream: `/api/sidecar/sessions/${encodeURIComponent(run.sessionId)}/stream` },
      };
      return reply.status(202).header("preference-applied", "respond-async").header("location", accepted.links.run).send(accepted);
    }
    const answer: DelegateResponse = toDelegateResponse(await deps.runs.wait(run));
    return answer;
  });

  app.get("/api/runs/:runId", async (request): Promise<ApiRun> => {
    const org = await authorize(request);
    const { runId } = parse(RunPath, request.params, "path");
    const run = await deps.runs.get(org.id, runId);
    return viewRun(run, { queuePosition: (r) => deps.runs.queuePosition(r), approvals: deps.approvals });
  });

  app.post("/api/runs/:runId/abort", async (request): Promise<ApiRunAbort> => {
    const org = await authorize(request);
    const { runId } = parse(RunPath, request.params, "path");
    const run = await deps.runs.abort(org.id, runId, request.log as Logger);
    return { id: run.id, status: run.status };
  });

  app.get("/api/sessions/:sessionId/runs", async (request): Promise<ApiRunList> => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const runs = await deps.runs.listBySession(org.id, sessionId);
    const waiting = await deps.approvals.waiting(org.id, runs.filter((r) => r.status === "running").map((r) => r.id));
    return { runs: await Promise.all(runs.map(async (run) => withWaiting(run, toApi(run, await deps.runs.queuePosition(run)), waiting.has(run.id)))) };
  });

  // Newest first, a page at a time: what the console lists. Only the key's organization's sessions.
  app.get("/api/sessions", async (request): Promise<ApiSessionList> => {
    const org = await authorize(request);
    const query = parseQuery(SessionListQuery, request.query);
    const limit = query.limit ?? 50;
    const after = query.cursor === undefined ? undefined : SessionCursor.decode(query.cursor);
    // One more than asked tells whether another page follows.
    const found = await deps.sessions.list(org.id, { limit: limit + 1, ...(after ? { after } : {}) });
    const page = found.slice(0, limit);
    const last = page.at(-1);
    return {
      sessions: page.map(summary),
      ...(found.length > limit && last ? { nextCursor: SessionCursor.encode(last) } : {}),
    };
  });

  app.get("/api/sessions/:sessionId", async (request): Promise<ApiSession> => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const session = await Sessions.get(deps.sessions, org.id, sessionId);
    const messages = await deps.sessions.messages(org.id, session.id);
    return { ...summary(session), messages: messages.map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })) };
  });

  // Stops the session's runs: the running one in the engine, the waiting ones before they start.
  app.post("/api/sessions/:sessionId/abort", async (request): Promise<ApiSessionAbort> => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const session = await Sessions.get(deps.sessions, org.id, sessionId);
    const aborted = await deps.runs.abortSession(org.id, session.id, request.log as Logger);
    return { sessionId: session.id, aborted };
  });

  // Browsers' EventSource cannot send an Authorization header: they trade the key for a short-lived
  // token bound to one session. The session is opened (created on first use), so a client may
  // start listening before its first prompt.
  app.post("/api/sessions/:sessionId/stream-token", async (request): Promise<StreamToken> => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const session = await Sessions.open(deps.sessions, org.id, sessionId);
    const ttlSeconds = deps.config.streamTokenTtlSeconds;
    const token = Capabilities.issue(deps.config.tokenSecret, { aud: "stream", sessionId: session.id, organizationId: org.id, keyId: org.keyId, ttlSeconds });
    return {
      token,
      expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
      url: `/api/sidecar/sessions/${encodeURIComponent(session.id)}/stream?token=${encodeURIComponent(token)}`,
    };
  });
}
