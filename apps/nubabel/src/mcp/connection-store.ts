import type { HttpTransport } from "./catalog.js";

/** An organization's MCP connection as stored. Credentials are sealed, never in the clear. */
export interface StoredConnection {
  id: string;
  organizationId: string;
  /** A catalog provider name, or `custom`. */
  provider: string;
  /** Unique within the organization; the agent may address a connection by it. Defaults to the provider. */
  name: string;
  enabled: boolean;
  /** Only for `custom`: the organization's own HTTP server. Catalog providers take theirs from the catalog. */
  transport?: HttpTransport;
  /** `SealedCredentials.seal(keyring, id, credentials)`: bound to `id`, so rows cannot swap blobs. */
  sealedCredentials: string;
  /** The credentials' names, so listings show them without decrypting anything. */
  credentialNames: string[];
}

/**
 * Read access to MCP connections, always scoped to one organization: there is no method that
 * reaches a connection without naming its organization, and implementations must filter by it.
 */
export interface ConnectionStore {
  /** The organization's enabled connections, oldest first. */
  listEnabled(organizationId: string): Promise<StoredConnection[]>;
  /** One connection of the organization; undefined when missing or another organization's. */
  get(organizationId: string, id: string): Promise<StoredConnection | undefined>;
}
