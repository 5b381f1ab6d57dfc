import { Ids, type Connection, type ConnectionTools, type CreateConnectionRequest, type McpToolInfo, type UpdateConnectionRequest } from "@nubabel/contracts";
import type { Resolve } from "@nubabel/net-policy";
import type { Logger } from "pino";
import { SealedCredentials } from "../crypto/index.js";
import type { AuditLog } from "../audit/index.js";
import type { Keyring } from "../crypto/keyring.js";
import type { Catalog } from "./catalog.js";
import { validateConnection } from "./connection-input.js";
import type { ConnectionRecord, ConnectionRepository } from "./connection-store.js";
import { ConnectionNotFound } from "./errors.js";

export interface ConnectionsDeps {
  repository: ConnectionRepository;
  keyring: Keyring;
  catalog: Catalog;
  allowPrivateUrls: boolean;
  /** The connection's tools from its server (the gateway's `tools`); undefined when not the organization's. */
  tools?(organizationId: string, connectionId: string): Promise<McpToolInfo[] | undefined>;
  /** Forgets a connection's running client (stops its stdio server). */
  drop(connectionId: string): Promise<void>;
  resolve?: Resolve;
  /** Where every change is recorded (never a credential). */
  audit?: Pick<AuditLog, "record">;
  /** Who the changes are by, in the audit: `api` (an API key, the default) or `operator` (the CLI). */
  actor?: "api" | "operator";
  log?: Logger;
}

/**
 * Managing an organization's MCP connections: every definition is validated against the catalog
 * and the URL policy before it is stored, credentials are sealed under the current key (bound to
 * the connection id), and what comes back shows credential names only. A connection of another
 * organization is indistinguishable from a missing one (`ConnectionNotFound`). Every change leaves
 * a `connection` entry in the audit trail.
 */
export class Connections {
  constructor(private readonly deps: ConnectionsDeps) {}

  async create(organizationId: string, input: CreateConnectionRequest): Promise<Connection> {
    const valid = await validateConnection(this.deps.catalog, input, this.policy());
    const id = Ids.create(Ids.Prefix.connection);
    const record = await this.deps.repository.insert({
      id,
      organizationId,
      provider: valid.provider,
      name: valid.name,
      enabled: input.enabled ?? true,
      ...(valid.transport ? { transport: valid.transport } : {}),
      sealedCredentials: SealedCredentials.seal(this.deps.keyring, id, valid.credentials),
      credentialNames: Object.keys(valid.credentials).sort(),
    });
    this.deps.log?.info({ organizationId, connectionId: id, provider: valid.provider }, "mcp connection created");
    await this.audit(organizationId, "create", record, `provider ${record.provider}${record.enabled ? "" : ", disabled"}`);
    return view(record);
  }

  async list(organizationId: string): Promise<Connection[]> {
    return (await this.deps.repository.listAll(organizationId)).map(view);
  }

  async get(organizationId: string, id: string): Promise<Connection> {
    return view(await this.find(organizationId, id));
  }

  /**
   * Applies a PATCH. The merged definition is validated again as a whole (a new URL is checked, a
   * renamed header too); credentials given replace the old ones and are sealed afresh. The running
   * client is dropped so the next call uses what was saved.
   */
  async update(organizationId: string, id: string, patch: UpdateConnectionRequest): Promise<Connection> {
    const current = await this.find(organizationId, id);
    // Switching a connection on or off changes nothing to check: it must work even when, say, the
    // custom server's name no longer resolves.
    if (patch.name === undefined && patch.credentials === undefined && patch.transport === undefined) {
      const toggled = await this.deps.repository.update(organizationId, id, patch.enabled === undefined ? {} : { enabled: patch.enabled });
      if (!toggled) throw new ConnectionNotFound(id);
      await this.deps.drop(id);
      await this.audit(organizationId, "update", toggled, changes(current, patch));
      return view(toggled);
    }
    const credentials = patch.credentials ?? SealedCredentials.open(this.deps.keyring, id, current.sealedCredentials);
    const valid = await validateConnection(
      this.deps.catalog,
      { provider: current.provider, name: patch.name ?? current.name, credentials, transport: patch.transport ?? current.transport },
      this.policy(),
    );
    const updated = await this.deps.repository.update(organizationId, id, {
      name: valid.name,
      ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
      ...(valid.transport ? { transport: valid.transport } : {}),
      ...(patch.credentials
        ? { sealedCredentials: SealedCredentials.seal(this.deps.keyring, id, valid.credentials), credentialNames: Object.keys(valid.credentials).sort() }
        : {}),
    });
    if (!updated) throw new ConnectionNotFound(id);
    await this.deps.drop(id);
    this.deps.log?.info({ organizationId, connectionId: id, credentialsReplaced: Boolean(patch.credentials) }, "mcp connection updated");
    await this.audit(organizationId, "update", updated, changes(current, patch));
    return view(updated);
  }

  /**
   * Asks the connection's server for its tools now, to check a definition works. Throws
   * `McpTimeoutError` (504) or `McpConnectionError` (502) saying why it does not.
   */
  async tools(organizationId: string, id: string): Promise<ConnectionTools> {
    await this.find(organizationId, id);
    const tools = this.deps.tools ? await this.deps.tools(organizationId, id) : undefined;
    if (!tools) throw new ConnectionNotFound(id);
    return { id, tools };
  }

  /** Deletes the connection and stops its server; its credentials are gone with the row. */
  async remove(organizationId: string, id: string): Promise<void> {
    const current = await this.find(organizationId, id);
    if (!(await this.deps.repository.remove(organizationId, id))) throw new ConnectionNotFound(id);
    await this.deps.drop(id);
    this.deps.log?.info({ organizationId, connectionId: id }, "mcp connection deleted");
    await this.audit(organizationId, "delete", current);
  }

  private async find(organizationId: string, id: string): Promise<ConnectionRecord> {
    // An id of the wrong shape cannot exist; answer like any other missing one.
    if (!Ids.schema(Ids.Prefix.connection).safeParse(id).success) throw new ConnectionNotFound(id);
    const record = await this.deps.repository.find(organizationId, id);
    if (!record) throw new ConnectionNotFound(id);
    return record;
  }

  private async audit(organizationId: string, action: "create" | "update" | "delete", record: ConnectionRecord, detail?: string): Promise<void> {
    await this.deps.audit?.record({
      organizationId,
      kind: "connection",
      actor: this.deps.actor ?? "api",
      action,
      connectionId: record.id,
      provider: record.name,
      status: "ok",
      ...(detail ? { detail } : {}),
    });
  }

  private policy() {
    return { allowPrivateUrls: this.deps.allowPrivateUrls, resolve: this.deps.resolve };
  }
}

/** What a PATCH changed, in words for the audit: names of things, never their values. */
function changes(current: ConnectionRecord, patch: UpdateConnectionRequest): string {
  const said: string[] = [];
  if (patch.enabled !== undefined && patch.enabled !== current.enabled) said.push(patch.enabled ? "enabled" : "disabled");
  if (patch.name !== undefined && patch.name !== current.name) said.push(`renamed from ${current.name}`);
  if (patch.transport !== undefined) said.push("transport replaced");
  if (patch.credentials !== undefined) said.push(`credentials replaced (${Object.keys(patch.credentials).sort().join(", ")})`);
  return said.join(", ") || "unchanged";
}

/** The response shape: everything but the credentials' values. */
export function view(record: ConnectionRecord): Connection {
  return {
    id: record.id,
    provider: record.provider,
    name: record.name,
    enabled: record.enabled,
    ...(record.transport ? { transport: record.transport } : {}),
    credentials: record.credentialNames,
    createdAt: record.createdAt.toISOString(),
    updatedAt: record.updatedAt.toISOString(),
  };
}
