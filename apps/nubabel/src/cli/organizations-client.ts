import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { PgOrganizationStore } from "../adapters/postgres/organization-store.js";
import { PgSlackLinks } from "../adapters/postgres/slack.js";
import { isEmbedded, type Env } from "../config/env.js";
import { dataPath } from "../config/files.js";
import { EmbeddedDatabaseBusy, lockHolder } from "../db/embedded-lock.js";
import { openDatabase } from "../db/open.js";
import { Organizations } from "../organizations/index.js";

export interface OrganizationSummary {
  id: string;
  name: string;
  createdAt: string;
  keys: number;
}

/** What the CLI does with organizations, wherever the database is. */
export interface OrganizationsApi {
  create(name: string): Promise<{ organizationId: string; apiKey: string }>;
  list(): Promise<OrganizationSummary[]>;
  /** Links a Slack workspace to the organization (moving it if it was linked elsewhere). */
  linkSlack(teamId: string, organizationId: string): Promise<{ teamId: string; organizationId: string }>;
}

/**
 * Runs `fn` against the configured storage. PostgreSQL takes any number of clients, so the CLI
 * opens it directly (applying migrations like the server). PGlite may be open in one process
 * only: when a server holds it, the CLI asks that server through its loopback admin endpoint
 * (secret in `<data dir>/admin.secret`); otherwise it takes the database's lock and opens it
 * itself. A server starting meanwhile waits for the lock (and vice versa), so neither corrupts it.
 */
export async function withOrganizations<T>(env: Env, fn: (api: OrganizationsApi) => Promise<T>, waitMs = 15_000): Promise<T> {
  if (!isEmbedded(env)) return direct(env, fn);
  const deadline = Date.now() + waitMs;
  for (;;) {
    const server = runningServer(env);
    if (server) {
      try {
        return await fn(viaServer(server.url, server.secret));
      } catch (err) {
        if (!(err instanceof ServerGone)) throw err;
      }
    } else {
      try {
        return await direct(env, fn);
      } catch (err) {
        if (!(err instanceof EmbeddedDatabaseBusy)) throw err;
      }
    }
    if (Date.now() > deadline) throw new Error("the embedded database stayed busy (is a server starting or stopping?)");
    await sleep(200);
  }
}

async function direct<T>(env: Env, fn: (api: OrganizationsApi) => Promise<T>): Promise<T> {
  const database = await openDatabase(env);
  try {
    const store = new PgOrganizationStore(database.db);
    return await fn({
      create: (name) => Organizations.create(store, name),
      list: async () => (await store.list()).map((o) => ({ ...o, createdAt: o.createdAt.toISOString() })),
      linkSlack: async (teamId, organizationId) => {
        await new PgSlackLinks(database.db).link(teamId, organizationId);
        return { teamId, organizationId };
      },
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

function viaServer(url: string, secret: string): OrganizationsApi {
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
  return {
    create: (name) => call("POST", "/admin/organizations", { name }),
    list: async () => (await call<{ organizations: OrganizationSummary[] }>("GET", "/admin/organizations")).organizations,
    linkSlack: (teamId, organizationId) => call("POST", "/admin/slack-links", { teamId, organizationId }),
  };
}
