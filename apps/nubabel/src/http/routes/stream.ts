import type { ServerResponse } from "node:http";
import type { FastifyInstance } from "fastify";
import { Sessions } from "../../sessions/index.js";
import { streamSession } from "../../progress/sse.js";
import { isLogId, normalizeId, streamOf } from "../../progress/progress-log.js";
import { requireCapability, requireOrganization } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { Forbidden, InvalidRequest, parse, parseQuery, Unauthorized } from "../errors.js";
import { SessionPath, StreamQuery } from "../schemas.js";

/**
 * `GET /api/sidecar/sessions/:sessionId/stream`: Server-Sent Events of a session's progress,
 * authorized by the API key or by a stream token in `?token=` made with one; either way the stream
 * ends once that key is revoked. `Last-Event-ID` (or `?lastEventId=`,
 * `0` for everything retained) replays what the client missed before following live.
 */
export function streamRoutes(app: FastifyInstance, deps: HttpDeps): void {
  // Streams never finish by themselves; closing the server ends them first so it can drain the
  // requests that do finish (a client reconnects elsewhere with Last-Event-ID).
  const open = new Set<ServerResponse>();
  app.addHook("preClose", async () => {
    for (const res of open) res.end();
  });

  app.get("/api/sidecar/sessions/:sessionId/stream", async (request, reply) => {
    const { sessionId } = parse(SessionPath, request.params, "path");
    const query = parseQuery(StreamQuery, request.query);
    let organizationId: string;
    // The API key the stream is opened with, or its token was made with: the stream ends once the
    // key is revoked (checked each heartbeat).
    let keyId: string;
    if (query.token !== undefined) {
      const cap = requireCapability(deps.config.tokenSecret, query.token, "stream");
      if (cap.sid !== sessionId) throw new Forbidden("session_mismatch", "this token is for another session", "sessionId");
      // Made by a version before tokens named their key: nothing could end its stream. Refused as
      // an expired one is (a client asks for a new token).
      if (cap.kid === undefined) throw new Unauthorized("this stream token names no API key: ask for a new one");
      organizationId = cap.org;
      keyId = cap.kid;
      if (!(await deps.organizations.isKeyActive(organizationId, keyId))) {
        throw new Unauthorized("the API key this stream token was made with has been revoked");
      }
    } else {
      ({ id: organizationId, keyId } = await requireOrganization(deps.organizations, request));
    }
    await Sessions.open(deps.sessions, organizationId, sessionId);

    const header = request.headers["last-event-id"];
    const lastEventId = (Array.isArray(header) ? header[0] : header) ?? query.lastEventId;
    if (lastEventId !== undefined && !isLogId(lastEventId)) {
      throw new InvalidRequest("invalid Last-Event-ID: must be an id this stream sent", ["Last-Event-ID"]);
    }

    const log = request.log.child({ sessionId, organizationId });
    reply.hijack();
    const raw = reply.raw;
    open.add(raw);
    raw.once("close", () => open.delete(raw));
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      // Proxies such as nginx would otherwise buffer the stream.
      "x-accel-buffering": "no",
    });
    raw.flushHeaders();
    const check = setInterval(() => {
      // The cached answer: a key revoked anywhere is dropped from it at once. A failed lookup
      // (the database down) keeps the stream.
      void deps.organizations
        .isKeyActive(organizationId, keyId)
        .then((active) => {
          if (active) return;
          log.info("the stream's API key was revoked; ending the stream");
          raw.end();
        })
        .catch(() => undefined);
    }, deps.config.heartbeatMs);
    check.unref();
    raw.once("close", () => clearInterval(check));
    try {
      await streamSession({
        log: deps.progress,
        stream: streamOf(organizationId, sessionId),
        sessionId,
        afterId: lastEventId === undefined ? undefined : normalizeId(lastEventId),
        heartbeatMs: deps.config.heartbeatMs,
        logger: log,
        sink: {
          write: (chunk) => !raw.destroyed && raw.write(chunk),
          onClose: (cleanup) => {
            if (raw.destroyed) cleanup();
            else raw.once("close", cleanup);
          },
        },
      });
    } catch (err) {
      // The progress backend is down: end the stream; the client reconnects with Last-Event-ID.
      log.warn({ err: (err as Error).message }, "stream could not start");
      raw.end();
    }
  });
}
