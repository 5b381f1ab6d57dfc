import pino, { type Logger } from "pino";

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

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: "opencode-sidecar" }, redact: { paths: REDACT, censor: "[redacted]" } });
}
export type { Logger };
