import {
  ApiDelegateRequest,
  ApiRun,
  ApiRunAbort,
  ApiRunAccepted,
  ApiRunList,
  ApiSession,
  ApiSessionAbort,
  ApiSessionList,
  DelegateResponse,
  ErrorBody,
  StreamEvent,
  SessionListQuery,
  StreamToken,
} from "@nubabel/contracts";
import { z } from "zod";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import { RunPath, SessionPath, StreamQuery } from "../schemas.js";
import * as Example from "./examples.js";
import { budgetExceeded } from "./paths-usage.js";
import { answer, Auth, body, errors, notFound } from "./responses.js";

const sessionNotFound = notFound("session_not_found", `session ${Example.SESSION_ID} not found`);
const runNotFound = notFound("run_not_found", `run ${Example.RUN_ID} not found`);

/** `/api/delegate`, `/api/runs/*`, `/api/sessions/*` and the SSE stream: what a caller of Nubabel uses. */
export const apiPaths: ZodOpenApiPathsObject = {
  "/api/delegate": {
    post: {
      tags: ["runs"],
      operationId: "delegate",
      summary: "Ask the assistant: start a run in a session",
      description:
        "Every prompt becomes a run, stored before anything else happens. With `Prefer: respond-async` the answer is a 202 with the run at once (follow it at `links.run` or on the session's stream); without it the request waits for the answer (200). A caller that goes away while waiting cancels nothing: the run goes on and its answer is kept.",
      security: Auth.apiKey,
      requestParams: {
        header: z.object({
          Prefer: z.literal("respond-async").optional().meta({ description: "RFC 7240: answer 202 at once instead of waiting for the run." }),
        }),
      },
      requestBody: body(ApiDelegateRequest, Example.delegateRequest),
      responses: {
        200: answer("Without `Prefer: respond-async`: the run's answer, once it ends.", DelegateResponse, Example.delegateResponse),
        202: answer("With `Prefer: respond-async`: the run, queued or running.", ApiRunAccepted, Example.runAccepted, {
          headers: z.object({
            location: z.string().meta({ description: "The run: `/api/runs/{runId}`." }),
            "preference-applied": z.literal("respond-async"),
          }),
        }),
        ...errors([400, 401, 429, 503], {
          ...budgetExceeded,
          502: answer("The sidecar answered with something Nubabel could not read (`sidecar_protocol_error`).", ErrorBody, {
            error: { code: "sidecar_protocol_error", message: "the sidecar's answer is not a DelegateResponse" },
          }),
        }),
      },
    },
  },
  "/api/runs/{runId}": {
    get: {
      tags: ["runs"],
      operationId: "getRun",
      summary: "A run: its status, and its answer once it ends",
      security: Auth.apiKey,
      requestParams: { path: RunPath },
      responses: { 200: answer("The run.", ApiRun, Example.run), ...errors([400, 401, 429, 503], runNotFound) },
    },
  },
  "/api/runs/{runId}/abort": {
    post: {
      tags: ["runs"],
      operationId: "abortRun",
      summary: "Stop a run, queued or running",
      description: "A run that already ended keeps its status.",
      security: Auth.apiKey,
      requestParams: { path: RunPath },
      responses: { 200: answer("The run's status after stopping it.", ApiRunAbort, { id: Example.RUN_ID, status: "aborted" }), ...errors([400, 401, 429, 503], runNotFound) },
    },
  },
  "/api/sessions": {
    get: {
      tags: ["sessions"],
      operationId: "listSessions",
      summary: "The organization's sessions, newest first",
      description:
        "`limit` at a time (50 by default, at most 200), without their history (`GET /api/sessions/{sessionId}` has it). While more follow, the page has `nextCursor`: pass it back as `cursor` for the next page.",
      security: Auth.apiKey,
      requestParams: { query: SessionListQuery },
      responses: {
        200: answer("One page of sessions.", ApiSessionList, { sessions: [Example.sessionSummary], nextCursor: "czE6MTc5NTk4Njg0MzEyMDp0aHJlYWQtNDI" }),
        ...errors([400, 401, 429, 503]),
      },
    },
  },
  "/api/sessions/{sessionId}": {
    get: {
      tags: ["sessions"],
      operationId: "getSession",
      summary: "A session and its message history",
      security: Auth.apiKey,
      requestParams: { path: SessionPath },
      responses: { 200: answer("The session, oldest message first.", ApiSession, Example.session), ...errors([400, 401, 429, 503], sessionNotFound) },
    },
  },
  "/api/sessions/{sessionId}/runs": {
    get: {
      tags: ["sessions"],
      operationId: "listSessionRuns",
      summary: "A session's runs",
      security: Auth.apiKey,
      requestParams: { path: SessionPath },
      responses: { 200: answer("The session's runs, oldest first.", ApiRunList, { runs: [Example.run] }), ...errors([400, 401, 429, 503]) },
    },
  },
  "/api/sessions/{sessionId}/abort": {
    post: {
      tags: ["sessions"],
      operationId: "abortSession",
      summary: "Stop a session's runs: the running one and those waiting",
      security: Auth.apiKey,
      requestParams: { path: SessionPath },
      responses: {
        200: answer("Whether anything was stopped.", ApiSessionAbort, { sessionId: Example.SESSION_ID, aborted: true }),
        ...errors([400, 401, 429, 503], sessionNotFound),
      },
    },
  },
  "/api/sessions/{sessionId}/stream-token": {
    post: {
      tags: ["sessions"],
      operationId: "createStreamToken",
      summary: "A short-lived token for a session's stream, for browsers",
      description:
        "Browsers' EventSource cannot send an Authorization header: trade the API key for a token bound to this one session and pass it as `?token=` (`url` is ready to use). The token works until `expiresAt`, and only while the key that made it is not revoked. The session is opened, created on first use, so a client may listen before its first prompt.",
      security: Auth.apiKey,
      requestParams: { path: SessionPath },
      responses: { 200: answer("The token and the stream URL that carries it.", StreamToken, Example.streamToken), ...errors([400, 401, 429, 503]) },
    },
  },
  "/api/sidecar/sessions/{sessionId}/stream": {
    get: {
      tags: ["sessions"],
      operationId: "streamSession",
      summary: "Follow a session's progress live (Server-Sent Events)",
      description:
        "Each event's `data:` is one `StreamEvent` (JSON) and its `id:` the event's `id`. Reconnect with `Last-Event-ID` (or `?lastEventId=`; `0` for everything retained) to get what was missed, in order, before following live. A comment line is sent every 15 s as a heartbeat. A run ends with a `completed` or `session_error` event. Authorized by the API key or by a stream token in `?token=`; the stream ends at the next heartbeat once that key (the token's maker) is revoked.",
      security: Auth.apiKeyOrStreamToken,
      requestParams: {
        path: SessionPath,
        query: StreamQuery,
        header: z.object({ "Last-Event-ID": z.string().optional().meta({ description: "The `id:` of the last event received." }) }),
      },
      responses: {
        200: {
          description: "An endless `text/event-stream`; the example is one event's `data:`.",
          content: { "text/event-stream": { schema: StreamEvent, example: Example.streamEvent } },
        },
        ...errors([400, 401, 503], {
          403: answer("The stream token is for another session.", ErrorBody, {
            error: { code: "session_mismatch", message: "this token is for another session", details: { code: "session_mismatch", field: "sessionId" } },
          }),
        }),
      },
    },
  },
};
