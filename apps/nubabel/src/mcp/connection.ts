import { createHash } from "node:crypto";
import type { Transport } from "./catalog.js";

/**
 * A connection as the pool runs it: already resolved against the catalog and already decrypted.
 * Decryption happens in the caller, so the pool never sees a key.
 */
export interface McpConnection {
  id: string;
  /** How errors and logs name the connection: the name the agent addresses it by. */
  provider: string;
  transport: Transport;
  /** Environment variables for a stdio server, headers for an HTTP one. */
  credentials: Record<string, string>;
  /**
   * Dial the server only through the guarded fetch that refuses private addresses at connect time.
   * Set for organizations' `custom` servers unless the operator allows private networks.
   */
  restrictNetwork?: boolean;
}

/**
 * Identifies what a pooled client was built from, so a connection edited meanwhile (new
 * credentials, new URL) gets a fresh client. A digest, so the pool holds no second copy of secrets.
 */
export function fingerprint(conn: McpConnection): string {
  const creds = Object.keys(conn.credentials)
    .sort()
    .map((k) => [k, conn.credentials[k]]);
  return createHash("sha256")
    .update(JSON.stringify([conn.transport, creds, conn.restrictNetwork ?? false]))
    .digest("base64url");
}
