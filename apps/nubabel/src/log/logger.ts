import { pino, type Logger } from "pino";
import { Logs, Tracing } from "@nubabel/telemetry";

export type { Logger };

/**
 * Paths pino blanks out wherever they appear in a log line. Secrets are removed by configuration,
 * so a careless `log.info({ body })` still cannot leak one.
 */
export const REDACT_PATHS = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "req.headers.authorization",
  'req.headers["webhook-signature"]',
  "apiKey",
  "*.apiKey",
  "token",
  "*.token",
  "callbackToken",
  "*.callbackToken",
  "secret",
  "*.secret",
  "credentials",
  "*.credentials",
  "password",
  "*.password",
];

/** Removes a `?token=` (stream tokens travel in the URL for EventSource) before a URL is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&](?:token|apiKey)=)[^&#]*/gi, "$1[Redacted]");
}

/** The root logger; modules take `logger.child({ module })` from it. Pretty on a terminal, JSON elsewhere. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "nubabel" },
      // Lines written inside a traced request or run carry its trace id.
      mixin: Tracing.logFields,
      redact: { paths: REDACT_PATHS, censor: "[Redacted]" },
      serializers: {
        req: (req: { method?: string; url?: string; id?: string }) => ({
          method: req.method,
          url: req.url === undefined ? undefined : redactUrl(req.url),
        }),
      },
    },
    destination ?? Logs.logDestination(),
  );
}
