import pino, { type Logger } from "pino";
import { Logs, Tracing } from "@nubabel/telemetry";

/** Paths never written to logs, whatever a caller passes in. */
export const REDACT = [
  "req.headers.authorization",
  "req.headers[\"webhook-signature\"]",
  "headers.authorization",
  "authorization",
  "password",
  "secret",
  "callbackToken",
  "token",
  "*.callbackToken",
  "*.password",
  "*.secret",
  "*.token",
  "*.apiKey",
];

/** Pretty on a terminal, JSON elsewhere; `destination` for tests that capture lines. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "opencode-sidecar" },
      // Lines written inside a traced request or run carry its trace id.
      mixin: Tracing.logFields,
      redact: { paths: REDACT, censor: "[redacted]" },
    },
    destination ?? Logs.logDestination(),
  );
}
export type { Logger };
