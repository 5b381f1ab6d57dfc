import { LogController, type FastifyReply, type FastifyRequest } from "fastify";
import { pino, type DestinationStream, type Logger } from "pino";
import { PinoPretty } from "pino-pretty";
import { logFields } from "./tracing.js";

export type { DestinationStream, Logger };

/** Names whose values are secrets wherever they appear. */
const SECRET_NAMES = ["authorization", "apiKey", "token", "callbackToken", "secret", "credentials", "password"];

/**
 * Paths pino blanks out in a log line: each secret name at the top and up to two objects down
 * (`{ err: { response: { authorization } } }`), pino having no recursive wildcard. Secrets are
 * removed by configuration, so a careless `log.info({ body })` still cannot leak one, in either service.
 */
export const REDACT_PATHS = [
  ...SECRET_NAMES.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
  'req.headers["webhook-signature"]',
];

/** What a redacted value reads as in a log line. */
export const CENSOR = "[Redacted]";

/** Removes a `?token=` or `?apiKey=` (stream tokens travel in the URL for EventSource) before a URL is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|apiKey)=)[^&#]*/gi, `$1${CENSOR}`);
}

export interface LoggerOptions {
  /** The `service` field of every line (`nubabel`, `opencode-sidecar`). */
  service: string;
  level: string;
  /** Where lines go; by default `logDestination()`. Tests pass one that captures them. */
  destination?: DestinationStream;
}

/**
 * A service's root logger; modules take `logger.child({ module })` from it. JSON lines with the
 * service's name, the trace id of the request or run they were written in, secrets redacted, and
 * a request logged as its method and its URL without tokens.
 */
export function createLogger(options: LoggerOptions): Logger {
  return pino(
    {
      level: options.level,
      base: { service: options.service },
      mixin: logFields,
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      serializers: {
        req: (req: { method?: string; url?: string }) => ({
          method: req.method,
          url: req.url === undefined ? undefined : redactUrl(req.url),
        }),
      },
    },
    options.destination ?? logDestination(),
  );
}

/**
 * Where a service's log lines go: readable, coloured, one line per event for a person at a
 * terminal; JSON (pino's default, `undefined` here) for everything else, log collectors included.
 */
export function logDestination(isTTY = Boolean(process.stdout.isTTY)): NodeJS.WritableStream | undefined {
  if (!isTTY) return undefined;
  return PinoPretty({
    colorize: true,
    singleLine: true,
    // Synchronous, like pino's own stdout writes: a crash loses no line.
    sync: true,
    translateTime: "SYS:HH:MM:ss.l",
    ignore: "pid,hostname,service",
  });
}

/**
 * Fastify's request lines, at debug for the routes `quiet` names (callbacks a run makes hundreds
 * of, heartbeats, scrapes), so info shows what a person cares about. Errors stay at error.
 */
export class QuietRequests extends LogController {
  constructor(
    private readonly quiet: (url: string) => boolean,
    requestIdLogLabel?: string,
  ) {
    super({ requestIdLogLabel });
  }

  override incomingRequest(request: FastifyRequest, reply: FastifyReply): void {
    if (this.quiet(request.url)) request.log.debug({ req: request }, "incoming request");
    else super.incomingRequest(request, reply);
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (!error && this.quiet(request.url)) reply.log.debug({ res: reply, responseTime: reply.elapsedTime }, "request completed");
    else super.requestCompleted(error, request, reply);
  }
}
