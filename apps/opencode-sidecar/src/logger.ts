import { Logs } from "@nubabel/telemetry";

export type Logger = Logs.Logger;

/**
 * The sidecar's root logger, `@nubabel/telemetry`'s as Nubabel's is: the same redaction and line
 * shape. Pretty on a terminal, JSON elsewhere; `destination` for tests that capture lines.
 */
export function createLogger(level: string, destination?: Logs.DestinationStream): Logger {
  return Logs.createLogger({ service: "opencode-sidecar", level, destination });
}
