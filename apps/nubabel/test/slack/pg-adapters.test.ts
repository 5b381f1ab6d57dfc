import { afterAll, beforeAll } from "vitest";
import { PgOrganizationStore } from "../../src/adapters/postgres/organization-store.js";
import { openPglite, type Database } from "../../src/db/database.js";
import { Organizations } from "../../src/organizations/index.js";
import { tempDir } from "../fixtures/backends.js";
import { slackLinksContract, slackThreadsContract } from "./port-contracts.js";
import { MIGRATION_SQL, PgSlackLinks, PgSlackThreads } from "./reference-pg-adapters.js";

// The reference adapters on PGlite (the embedded default), with the proposed migration applied.
const folder = tempDir("slack-pg");
let database: Database;
const orgs: [string, string] = ["", ""];

beforeAll(async () => {
  database = await openPglite(folder.dir);
  for (const statement of MIGRATION_SQL) await database.db.execute(statement);
  const store = new PgOrganizationStore(database.db);
  orgs[0] = (await Organizations.create(store, "Acme")).organizationId;
  orgs[1] = (await Organizations.create(store, "Globex")).organizationId;
});
afterAll(async () => {
  await database?.close();
  folder.remove();
});

slackThreadsContract("PGlite", () => new PgSlackThreads(database.db), orgs);
slackLinksContract(
  "PGlite",
  async () => {
    const links = new PgSlackLinks(database.db);
    return { links, link: (team, org) => links.link(team, org) };
  },
  orgs,
);
