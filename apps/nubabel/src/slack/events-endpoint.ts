import { verifySlackRequest } from "@slack/bolt";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../log/logger.js";
import { SlackPayloadInvalid, SlackSignatureInvalid } from "./errors.js";

/** Slack's replay window: a request signed longer ago (or further ahead) than this is refused. */
export const SIGNATURE_WINDOW_SECONDS = 5 * 60;

/** What the endpoint answers; `dispatch`, when set, must run after the answer is sent. */
export interface EndpointResult {
  status: number;
  body?: unknown;
  dispatch?: () => Promise<void>;
}

/** A verified event delivery, as Bolt's `processEvent` wants it. */
export interface Delivery {
  body: Record<string, unknown>;
  retryNum?: number;
  retryReason?: string;
}

export interface EventsEndpointOptions {
  signingSecret: string;
  /** Hands a verified event to the app; the endpoint never awaits it before answering. */
  deliver: (delivery: Delivery) => Promise<void>;
  logger: Logger;
  /** False while shutting down: events are refused with 503 (Slack retries them elsewhere). */
  accepting?: () => boolean;
  now?: () => number;
}

/**
 * The Events API endpoint without a web framework: verifies the signature over the raw body,
 * answers `url_verification`, and acknowledges events at once (Slack wants an answer within 3 s and
 * retries otherwise), leaving the work to `dispatch`.
 */
export function eventsEndpoint(options: EventsEndpointOptions) {
  const now = options.now ?? Date.now;
  return (rawBody: string, headers: Record<string, string | string[] | undefined>): EndpointResult => {
    try {
      verify(options.signingSecret, rawBody, headers, now());
    } catch (err) {
      if (!(err instanceof SlackSignatureInvalid)) throw err;
      options.logger.warn({ reason: err.data.reason }, "refused an unsigned or stale Slack request");
      return { status: 401, body: { error: { code: "invalid_signature", message: "invalid Slack request signature" } } };
    }
    let body: Record<string, unknown>;
    try {
      body = parseBody(rawBody, header(headers, "content-type"));
    } catch (err) {
      const reason = err instanceof SlackPayloadInvalid ? err.data.reason : String(err);
      return { status: 400, body: { error: { code: "invalid_payload", message: reason } } };
    }
    if (body.type === "url_verification") return { status: 200, body: { challenge: body.challenge } };
    if (options.accepting && !options.accepting()) {
      return { status: 503, body: { error: { code: "shutting_down", message: "this instance is stopping; retry" } } };
    }
    const retry = header(headers, "x-slack-retry-num");
    const delivery: Delivery = {
      body,
      retryNum: retry === undefined ? undefined : Number(retry),
      retryReason: header(headers, "x-slack-retry-reason"),
    };
    return {
      status: 200,
      dispatch: () =>
        options.deliver(delivery).catch((err: Error) => options.logger.error({ err: err.message }, "Slack event processing failed")),
    };
  };
}

/**
 * Mounts `POST <path>` on a Fastify app. Registered as its own plugin so the raw-body parsers it
 * needs (the signature covers the exact bytes) stay out of every other route.
 */
export function fastifySlackEvents(handle: ReturnType<typeof eventsEndpoint>, path = "/slack/events") {
  return async (app: FastifyInstance): Promise<void> => {
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "string", bodyLimit: 1_048_576 }, (_req, body, done) => done(null, body));
    app.post(path, async (request, reply) => {
      const raw = typeof request.body === "string" ? request.body : "";
      const result = handle(raw, request.headers);
      if (result.dispatch) {
        const dispatch = result.dispatch;
        // After the answer is on the wire: a slow task must never delay Slack's ack. `close` also
        // fires when the client went away first; the event is processed anyway (a retry is deduped).
        reply.raw.once("close", () => void dispatch());
      }
      return reply.status(result.status).send(result.body ?? "");
    });
  };
}

function verify(secret: string, rawBody: string, headers: Record<string, string | string[] | undefined>, nowMs: number): void {
  const signature = header(headers, "x-slack-signature");
  const timestamp = Number(header(headers, "x-slack-request-timestamp"));
  if (!signature || !Number.isInteger(timestamp)) throw new SlackSignatureInvalid("missing signature headers");
  // Bolt checks only for stale timestamps; one far in the future is as suspicious.
  if (Math.abs(nowMs / 1000 - timestamp) > SIGNATURE_WINDOW_SECONDS) throw new SlackSignatureInvalid("timestamp outside the 5-minute window");
  try {
    verifySlackRequest({
      signingSecret: secret,
      body: rawBody,
      headers: { "x-slack-signature": signature, "x-slack-request-timestamp": timestamp },
      nowMilliseconds: nowMs,
    });
  } catch (err) {
    throw new SlackSignatureInvalid((err as Error).message);
  }
}

function parseBody(raw: string, contentType: string | undefined): Record<string, unknown> {
  try {
    // Interactivity posts `payload=<json>` form-encoded; the Events API posts JSON.
    const json = contentType?.includes("application/x-www-form-urlencoded") ? new URLSearchParams(raw).get("payload") ?? "" : raw;
    const parsed: unknown = JSON.parse(json);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new SlackPayloadInvalid("expected a JSON object");
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
