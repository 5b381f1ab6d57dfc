import { PgOrganizationStore } from "../adapters/postgres/organization-store.js";
import { PgSlackLinks } from "../adapters/postgres/slack.js";
import type { Env } from "../config/env.js";
import { openDatabase } from "../db/open.js";
import { Organizations } from "../organizations/index.js";
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
}

/** Runs `fn` against the configured storage (see `withStorage`). */
export function withOrganizations<T>(env: Env, fn: (api: OrganizationsApi) => Promise<T>, waitMs = 15_000): Promise<T> {
  return withStorage(env, { direct: () => direct(env, fn), viaServer: (call) => fn(viaServer(call)) }, waitMs);
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

function viaServer(call: AdminCall): OrganizationsApi {
  return {
    create: (name) => call("POST", "/admin/organizations", { name }),
    list: async () => (await call<{ organizations: OrganizationSummary[] }>("GET", "/admin/organizations")).organizations,
    linkSlack: (teamId, organizationId) => call("POST", "/admin/slack-links", { teamId, organizationId }),
  };
}
