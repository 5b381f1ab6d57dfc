import type { FastifyInstance, FastifyRequest } from "fastify";
import { Capabilities } from "@nubabel/contracts";
import type { Logger } from "../../log/logger.js";
import { Sessions } from "../../sessions/index.js";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse } from "../errors.js";
import { ApiDelegateRequest, SessionPath } from "../schemas.js";

/** The API for people and programs, authorized by an organization's API key. */
export function publicRoutes(app: FastifyInstance, deps: HttpDeps): void {
  const authorize = (request: FastifyRequest) => authorizeApiKey(deps, request);

  app.post("/api/delegate", async (request) => {
    const org = await authorize(request);
    const body = parse(ApiDelegateRequest, request.body);
    return deps.delegation.run({ organizationId: org.id, ...body }, request.log as Logger);
  });

  app.get("/api/sessions/:sessionId", async (request) => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const session = await Sessions.get(deps.sessions, org.id, sessionId);
    const messages = await deps.sessions.messages(session.id);
    return {
      id: session.id,
      organizationId: session.organizationId,
      userId: session.userId,
      state: session.state,
      createdAt: session.createdAt.toISOString(),
      updatedAt: session.updatedAt.toISOString(),
      messages: messages.map((m) => ({ ...m, createdAt: m.createdAt.toISOString() })),
    };
  });

  // Stops the session's running turn on the sidecar that owns it; a session that never ran has
  // nothing to stop.
  app.post("/api/sessions/:sessionId/abort", async (request) => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const session = await Sessions.get(deps.sessions, org.id, sessionId);
    const mapped = await deps.mapping.bySession(session.id, request.log as Logger);
    if (!mapped) return { sessionId: session.id, aborted: false };
    const result = await deps.sidecar.abort(mapped.sidecarUrl, mapped.opencodeSessionId, request.log as Logger);
    return { sessionId: session.id, aborted: result.aborted };
  });

  // Browsers' EventSource cannot send an Authorization header: they trade the key for a short-lived
  // token bound to one session. The session is opened (created on first use), so a client may
  // start listening before its first prompt.
  app.post("/api/sessions/:sessionId/stream-token", async (request) => {
    const org = await authorize(request);
    const { sessionId } = parse(SessionPath, request.params, "path");
    const session = await Sessions.open(deps.sessions, org.id, sessionId);
    const ttlSeconds = deps.config.streamTokenTtlSeconds;
    const token = Capabilities.issue(deps.config.tokenSecret, { aud: "stream", sessionId: session.id, organizationId: org.id, ttlSeconds });
    return {
      token,
      expiresAt: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
      url: `/api/sidecar/sessions/${encodeURIComponent(session.id)}/stream?token=${encodeURIComponent(token)}`,
    };
  });
}
