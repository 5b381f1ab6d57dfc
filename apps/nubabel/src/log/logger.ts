import { Logs } from "@nubabel/telemetry";

export type Logger = Logs.Logger;

/**
 * Nubabel's root logger (`@nubabel/telemetry`'s, shared with the sidecar): modules take
 * `logger.child({ module })` from it. Pretty on a terminal, JSON elsewhere.
 */
export function createLogger(level: string, destination?: Logs.DestinationStream): Logger {
  return Logs.createLogger({ service: "nubabel", level, destination });
}
