import type { ApiKeyCreated, ApiKeyRevoked, ApiKeyView } from "@nubabel/contracts";
import { PgAuditLog } from "../adapters/postgres/audit-log.js";
import { PgOrganizationStore } from "../adapters/postgres/organization-store.js";
import { announceOnce } from "../adapters/redis/cache-changes.js";
import { PgSlackLinks } from "../adapters/postgres/slack.js";
import type { Env } from "../config/env.js";
import { openDatabase } from "../db/open.js";
import { createLogger } from "../log/logger.js";
import { ApiKeys, KEY_CACHE, Organizations, revokedEntries } from "../organizations/index.js";
import { type AdminCall, withStorage } from "./storage-route.js";

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
  listKeys(organizationId: string): Promise<ApiKeyView[]>;
  addKey(organizationId: string, name?: string): Promise<ApiKeyCreated>;
  /** `serversTold: false`: changed in the database, but the running servers could not be told (no Redis). */
  revokeKey(organizationId: string, keyId: string): Promise<ApiKeyRevoked & { serversTold?: boolean }>;
}

/** Runs `fn` against the configured storage (see `withStorage`). */
export function withOrganizations<T>(env: Env, fn: (api: OrganizationsApi) => Promise<T>, waitMs = 15_000): Promise<T> {
  return withStorage(env, { direct: () => direct(env, fn), viaServer: (call) => fn(viaServer(call)) }, waitMs);
}

async function direct<T>(env: Env, fn: (api: OrganizationsApi) => Promise<T>): Promise<T> {
  const database = await openDatabase(env);
  try {
    const store = new PgOrganizationStore(database.db);
    let serversTold: boolean | undefined;
    const keys = new ApiKeys({
      store,
      audit: new PgAuditLog(database.db),
      actor: "operator",
      // The servers keep keys they found for SETTINGS_CACHE_MS: told over Redis, they drop a revoked one at once.
      revoked: async (key) => {
        serversTold = env.REDIS_URL ? await announceOnce(env.REDIS_URL, env.REDIS_KEY_PREFIX, KEY_CACHE, revokedEntries(key), createLogger("silent")) : false;
      },
    });
    return await fn({
      create: (name) => Organizations.create(store, name),
      list: async () => (await store.list()).map((o) => ({ ...o, createdAt: o.createdAt.toISOString() })),
      linkSlack: async (teamId, organizationId) => {
        await new PgSlackLinks(database.db).link(teamId, organizationId);
        return { teamId, organizationId };
      },
      listKeys: (organizationId) => keys.list(organizationId),
      addKey: (organizationId, name) => keys.create(organizationId, name),
      revokeKey: async (organizationId, keyId) => {
        const revoked = await keys.revoke(organizationId, keyId);
        return serversTold === undefined ? revoked : { ...revoked, serversTold };
      },
    });
  } finally {
    await database.close();
  }
}

function viaServer(call: AdminCall): OrganizationsApi {
  return {
    create: (name) => call("POST", "/admin/organizations", { name }),
    list: async () => (await call<{ organizations: OrganizationSummary[] }>("GET", "/admin/organizations")).organizations,
    linkSlack: (teamId, organizationId) => call("POST", "/admin/slack-links", { teamId, organizationId }),
    listKeys: async (organizationId) => (await call<{ keys: ApiKeyView[] }>("GET", keysOf(organizationId))).keys,
    addKey: (organizationId, name) => call("POST", keysOf(organizationId), name ? { name } : {}),
    revokeKey: (organizationId, keyId) => call("POST", `${keysOf(organizationId)}/${encodeURIComponent(keyId)}/revoke`),
  };
}

const keysOf = (organizationId: string) => `/admin/organizations/${encodeURIComponent(organizationId)}/api-keys`;
