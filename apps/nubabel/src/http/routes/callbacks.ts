import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  Ack,
  type Capabilities,
  eventsOf,
  isTerminal,
  McpInvokeRequest,
  type McpInvokeResponse,
  McpListRequest,
  type McpListResponse,
  type ProgressAck,
  type ProgressEvent,
  ProgressPost,
  RunResult,
  type RunResultAck,
  SessionUpdate,
  Text,
  Webhooks,
} from "@nubabel/contracts";
import { streamOf } from "../../progress/progress-log.js";
import type { Logger } from "../../log/logger.js";
import { bearer, requireCapability } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { DependencyUnavailable, Forbidden, InvalidRequest, parse, Unauthorized } from "../errors.js";
import { enforce } from "../limits.js";
import { SessionPath } from "../schemas.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified capability of a sidecar callback. */
    capability?: Capabilities.Capability;
  }
  interface FastifyContextConfig {
    /**
     * The route applies a message at most once by its own key, so a redelivery of the same
     * `webhook-id` is acknowledged rather than refused as a replay (a run's terminal result).
     */
    idempotent?: boolean;
  }
}

/**
 * Callbacks from the sidecar. Each is checked in this order, and nothing runs unless all pass:
 * Standard Webhooks signature over the raw body (replays refused) → capability token
 * (`aud: callback`) → JSON body → the body's `organizationId`, if any, equals the token's → the
 * path's session equals the token's.
 */
export function callbackRoutes(app: FastifyInstance, deps: HttpDeps): void {
  // The signature covers the exact bytes sent, so the body is kept raw and parsed after verifying.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => done(null, body));

  app.addHook("preHandler", async (request) => {
    const raw = typeof request.body === "string" ? request.body : "";
    try {
      const guard = request.routeOptions.config.idempotent ? "idempotent" : deps.replayGuard;
      const route = { direction: "sidecar-to-nubabel", method: request.method, path: request.url } as const;
      await Webhooks.verify(deps.config.sidecarSecret, route, raw, request.headers, guard);
    } catch (err) {
      if (err instanceof Webhooks.SignatureError) throw new Unauthorized(`signature refused: ${err.message}`);
      // The replay guard could not answer: refuse rather than risk accepting a replay.
      throw new DependencyUnavailable("replay guard");
    }
    const capability = requireCapability(deps.config.tokenSecret, bearer(request), "callback");
    request.capability = capability;
    request.log = request.log.child({ sessionId: capability.sid, organizationId: capability.org });
    let body: unknown;
    try {
      body = raw.length ? Text.parseJson(raw) : {};
    } catch (err) {
      throw new InvalidRequest(`invalid body: body: ${(err as Error).message}`, ["body"]);
    }
    request.body = body;
    const claimed = (body as { organizationId?: unknown } | null)?.organizationId;
    if (claimed !== undefined && claimed !== capability.org) {
      throw new Forbidden("organization_mismatch", "organizationId does not match the delegation's organization", "organizationId");
    }
    const params = request.params as { sessionId?: string };
    if (params.sessionId !== undefined && parse(SessionPath, params, "path").sessionId !== capability.sid) {
      throw new Forbidden("session_mismatch", "this token is for another session", "sessionId");
    }
  });

  const limit = (request: FastifyRequest, cap: Capabilities.Capability) =>
    enforce(deps.rateLimiter, request, [
      { key: `cb:org:${cap.org}`, limit: deps.config.callbackLimitPerOrg, scope: "organization callbacks" },
      { key: `cb:ses:${cap.org}:${cap.sid}`, limit: deps.config.callbackLimitPerSession, scope: "session callbacks" },
    ]);

  app.post("/api/sidecar/sessions/:sessionId/update", async (request): Promise<Ack> => {
    const cap = request.capability!;
    parse(SessionPath, request.params, "path");
    const update = parse(SessionUpdate, request.body);
    await limit(request, cap);
    const mapped = await deps.mapping.bySession(cap.org, cap.sid, request.log as Logger);
    if (mapped && mapped.opencodeSessionId !== update.state.opencodeSessionId) {
      throw new Forbidden("opencode_session_mismatch", "this session is bound to another OpenCode session", "state.opencodeSessionId");
    }
    const session = await deps.sessions.get(cap.org, cap.sid);
    if (!session) throw new Forbidden("session_mismatch", "unknown session for this token", "sessionId");
    await deps.sessions.setState(cap.org, cap.sid, update.state);
    return { success: true };
  });

  app.post("/api/sidecar/sessions/:sessionId/progress", async (request): Promise<ProgressAck> => {
    const cap = request.capability!;
    parse(SessionPath, request.params, "path");
    const events = eventsOf(parse(ProgressPost, request.body));
    // The event that ends a run is never refused: a client waiting for it would wait forever.
    if (!events.some(isTerminal)) await limit(request, cap);
    let ids: string[] = [];
    try {
      const logged: ProgressEvent[] = [];
      for (const asked of events) {
        // A tool call waiting for a person becomes a stored approval, streamed as `approval_requested`.
        const event = asked.type === "permission_asked" ? await deps.approvals.request(cap.org, cap.sid, asked) : asked;
        if (event) logged.push(event);
      }
      // Made together, so stored in this order (the order SSE clients replay) in one round trip.
      ids = await Promise.all(logged.map((event) => deps.progress.append(streamOf(cap.org, cap.sid), event)));
    } catch (err) {
      request.log.warn({ err: (err as Error).message }, "progress log append failed");
      throw new DependencyUnavailable("progress log");
    }
    // An ask for a run that is not this session's is dropped: the ack still names the log's end.
    const id = ids.at(-1) ?? (await deps.progress.lastId(streamOf(cap.org, cap.sid)));
    return { success: true, id, ...(ids.length > 1 ? { ids } : {}) };
  });

  // The run's end: applied once by run id, however often it is delivered (never rate limited).
  app.post("/api/sidecar/sessions/:sessionId/result", { config: { idempotent: true } }, async (request): Promise<RunResultAck> => {
    const cap = request.capability!;
    parse(SessionPath, request.params, "path");
    const result = parse(RunResult, request.body);
    const run = await deps.runs.applyResult(cap.org, cap.sid, result, request.log as Logger);
    return { success: true, status: run.status };
  });

  app.post("/api/sidecar/mcp/invoke", async (request): Promise<McpInvokeResponse> => {
    const cap = request.capability!;
    const body = parse(McpInvokeRequest, request.body);
    await limit(request, cap);
    // A call the policy covers runs only once a person approved it, whatever the sidecar did.
    const refused = await deps.approvals.refusal(cap.org, cap.sid, body);
    if (refused) return { result: { content: [{ type: "text", text: refused }] }, isError: true };
    return deps.mcp.invoke({ organizationId: cap.org, sessionId: cap.sid, requestId: request.id }, body);
  });

  app.post("/api/sidecar/mcp/list", async (request): Promise<McpListResponse> => {
    const cap = request.capability!;
    const body = parse(McpListRequest, request.body);
    await limit(request, cap);
    return deps.mcp.list({ organizationId: cap.org, sessionId: cap.sid, requestId: request.id }, body);
  });
}
