import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Connection, CreateConnectionRequest } from "@nubabel/contracts";
import { PgConnectionStore } from "../adapters/postgres/connection-store.js";
import { isEmbedded, type Env } from "../config/env.js";
import { dataPath } from "../config/files.js";
import { resolveKeyring, Rotation } from "../crypto/index.js";
import type { Keyring } from "../crypto/keyring.js";
import { EmbeddedDatabaseBusy, lockHolder } from "../db/embedded-lock.js";
import { openDatabase } from "../db/open.js";
import { loadCatalog } from "../mcp/catalog.js";
import { Connections } from "../mcp/connections.js";

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
  if (!isEmbedded(env)) return direct(env, keyring, fn);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const server = runningServer(env);
    if (server) {
      try {
        return await fn(viaServer(server.url, server.secret, keyring.current));
      } catch (err) {
        if (!(err instanceof ServerGone)) throw err;
      }
    } else {
      try {
        return await direct(env, keyring, fn);
      } catch (err) {
        if (!(err instanceof EmbeddedDatabaseBusy)) throw err;
      }
    }
    if (Date.now() > deadline) throw new Error("the embedded database stayed busy (is a server starting or stopping?)");
    await sleep(200);
  }
}

async function direct<T>(env: Env, keyring: Keyring, fn: (api: McpAdminApi) => Promise<T>): Promise<T> {
  const database = await openDatabase(env);
  try {
    const store = new PgConnectionStore(database.db);
    const connections = new Connections({
      repository: store,
      keyring,
      catalog: await loadCatalog(env.NUBABEL_MCP_CATALOG),
      allowPrivateUrls: env.NUBABEL_MCP_ALLOW_PRIVATE_URLS,
      // No pool here; a running server's pool notices the changed definition by its fingerprint.
      drop: async () => undefined,
    });
    return await fn({
      rotate: async () => ({ keyId: keyring.current, ...(await Rotation.rotateAll(keyring, store)) }),
      createConnection: (org, input) => connections.create(org, input),
      listConnections: (org) => connections.list(org),
    });
  } finally {
    await database.close();
  }
}

class ServerGone extends Error {}

function runningServer(env: Env): { url: string; secret: string } | undefined {
  try {
    const info = JSON.parse(readFileSync(dataPath(env.NUBABEL_DATA_DIR, "server.json"), "utf8")) as { url: string; pid: number };
    if (lockHolder(dataPath(env.NUBABEL_DATA_DIR, "pglite.lock")) !== info.pid) return undefined;
    return { url: info.url, secret: readFileSync(dataPath(env.NUBABEL_DATA_DIR, "admin.secret"), "utf8").trim() };
  } catch {
    return undefined;
  }
}

function viaServer(url: string, secret: string, keyId: string): McpAdminApi {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${secret}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ServerGone();
    }
    const json = (await response.json()) as T & { error?: { message: string } };
    if (!response.ok) throw new Error(json.error?.message ?? `server answered ${response.status}`);
    return json;
  };
  const org = (id: string) => `/admin/organizations/${encodeURIComponent(id)}/connections`;
  return {
    rotate: async () => ({ keyId, ...(await call<Rotation.RotationReport>("POST", "/admin/keys/rotate", { expectCurrent: keyId })) }),
    createConnection: (id, input) => call("POST", org(id), input),
    listConnections: async (id) => (await call<{ connections: Connection[] }>("GET", org(id))).connections,
  };
}
