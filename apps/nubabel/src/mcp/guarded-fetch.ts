import { createGuardedFetch as guardedFetch, type GuardedFetch } from "@nubabel/net-policy";
import { McpUrlRefusedError } from "./errors.js";

export type { GuardedFetch } from "@nubabel/net-policy";

/**
 * The shared guarded fetch (see `@nubabel/net-policy`) for custom MCP servers: a refused address is
 * an `McpUrlRefusedError`, which the MCP errors report.
 */
export function createGuardedFetch(options: Omit<Parameters<typeof guardedFetch>[0] & object, "refused"> = {}): GuardedFetch {
  return guardedFetch({ ...options, refused: (refusal) => new McpUrlRefusedError(refusal) });
}
