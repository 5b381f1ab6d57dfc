import type { Connection, CreateConnectionRequest } from "@nubabel/contracts";
import { PgAuditLog } from "../adapters/postgres/audit-log.js";
import { PgConnectionStore } from "../adapters/postgres/connection-store.js";
import { PgWebhookStore } from "../adapters/postgres/webhook-store.js";
import { isEmbedded, type Env } from "../config/env.js";
import { resolveKeyring, Rotation } from "../crypto/index.js";
import type { Keyring } from "../crypto/keyring.js";
import { openDatabase } from "../db/open.js";
import { loadCatalog } from "../mcp/catalog.js";
import { Connections } from "../mcp/connections.js";
import { sealedSecretRows } from "../webhooks/index.js";
import { type AdminCall, withStorage } from "./storage-route.js";

/** What the CLI does with keys and connections, wherever the database is. */
export interface McpAdminApi {
  rotate(): Promise<Rotation.RotationReport & { keyId: string }>;
  createConnection(organizationId: string, input: CreateConnectionRequest): Promise<Connection>;
  listConnections(organizationId: string): Promise<Connection[]>;
}

/**
 * Runs `fn` against the configured storage, like `withOrganizations`: PostgreSQL directly; on the
 * embedded default through the running server's loopback admin endpoint when it holds PGlite,
 * otherwise directly under PGlite's lock. The keyring is resolved as the server resolves it, so
 * `keys rotate` run with `NUBABEL_ENCRYPTION_KEY="new:…,old:…"` re-encrypts under `new`.
 */
export async function withMcpAdmin<T>(env: Env, fn: (api: McpAdminApi) => Promise<T>, waitMs = 15_000): Promise<T> {
  const { keyring } = await resolveKeyring({ value: env.NUBABEL_ENCRYPTION_KEY, embedded: isEmbedded(env), dataDir: env.NUBABEL_DATA_DIR });
  return withStorage(env, { direct: () => direct(env, keyring, fn), viaServer: (call) => fn(viaServer(call, keyring.current)) }, waitMs);
}

async function direct<T>(env: Env, keyring: Keyring, fn: (api: McpAdminApi) => Promise<T>): Promise<T> {
  const database = await openDatabase(env);
  try {
    const store = new PgConnectionStore(database.db);
    const audit = new PgAuditLog(database.db);
    const connections = new Connections({
      repository: store,
      keyring,
      catalog: await loadCatalog(env.NUBABEL_MCP_CATALOG),
      allowPrivateUrls: env.NUBABEL_MCP_ALLOW_PRIVATE_URLS,
      // No pool here; a running server's pool notices the changed definition by its fingerprint.
      drop: async () => undefined,
      audit,
      actor: "operator",
    });
    return await fn({
      rotate: async () => ({ keyId: keyring.current, ...(await Rotation.rotateAll(keyring, [store, sealedSecretRows(new PgWebhookStore(database.db))], audit)) }),
      createConnection: (org, input) => connections.create(org, input),
      listConnections: (org) => connections.list(org),
    });
  } finally {
    await database.close();
  }
}

function viaServer(call: AdminCall, keyId: string): McpAdminApi {
  const org = (id: string) => `/admin/organizations/${encodeURIComponent(id)}/connections`;
  return {
    rotate: async () => ({ keyId, ...(await call<Rotation.RotationReport>("POST", "/admin/keys/rotate", { expectCurrent: keyId })) }),
    createConnection: (id, input) => call("POST", org(id), input),
    listConnections: async (id) => (await call<{ connections: Connection[] }>("GET", org(id))).connections,
  };
}
