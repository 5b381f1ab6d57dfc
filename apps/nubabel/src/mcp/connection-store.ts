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

/** A stored connection with its timestamps, as management (API, CLI) shows it. */
export interface ConnectionRecord extends StoredConnection {
  createdAt: Date;
  updatedAt: Date;
}

/** What an update may change; the provider and the id never change. */
export type ConnectionChanges = Partial<Pick<StoredConnection, "name" | "enabled" | "transport" | "sealedCredentials" | "credentialNames">>;

/**
 * Managing an organization's connections (`/api/connections`, `nubabel connections`). Like
 * `ConnectionStore`, every method names the organization and touches only its rows.
 */
export interface ConnectionRepository extends ConnectionStore {
  /** Every connection of the organization, disabled ones too, oldest first. */
  listAll(organizationId: string): Promise<ConnectionRecord[]>;
  find(organizationId: string, id: string): Promise<ConnectionRecord | undefined>;
  /**
   * Throws `McpConnectionNameTaken` when the organization already has a connection of that name,
   * `OrganizationNotFound` when there is no such organization (the CLI names one freely).
   */
  insert(row: StoredConnection): Promise<ConnectionRecord>;
  /** Undefined when the connection is not the organization's. Throws `McpConnectionNameTaken` on a rename clash. */
  update(organizationId: string, id: string, changes: ConnectionChanges): Promise<ConnectionRecord | undefined>;
  /** False when the connection is not the organization's. */
  remove(organizationId: string, id: string): Promise<boolean>;
}
