import { parseEnv, type Env } from "../config/env.js";

/**
 * The server's configuration as the CLI needs it, or undefined after saying what is wrong. The CLI
 * never talks to the sidecar: a placeholder lets it run without the shared secret.
 */
export function cliEnv(source: Record<string, string | undefined>, err: { write(s: string): unknown }): Env | undefined {
  try {
    return parseEnv({ SIDECAR_SHARED_SECRET: `whsec_${Buffer.alloc(32).toString("base64")}`, ...source });
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return undefined;
  }
}
