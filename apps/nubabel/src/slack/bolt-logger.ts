import { LogLevel, type Logger as BoltLogger } from "@slack/bolt";
import type { Logger } from "../log/logger.js";

/**
 * Bolt (and its WebClient) log through this, so their lines land in Nubabel's structured log with
 * its redaction. Levels are pino's to decide: Bolt's `setLevel` is ignored.
 */
export function boltLogger(log: Logger): BoltLogger {
  const line = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : typeof m === "string" ? m : JSON.stringify(m))).join(" ");
  return {
    debug: (...msg: unknown[]) => log.debug(line(msg)),
    info: (...msg: unknown[]) => log.info(line(msg)),
    warn: (...msg: unknown[]) => log.warn(line(msg)),
    error: (...msg: unknown[]) => log.error(line(msg)),
    setLevel: () => undefined,
    getLevel: () => LogLevel.INFO,
    setName: () => undefined,
  };
}
