import { Redis } from "ioredis";
import { afterAll, beforeAll, describe } from "vitest";
import { PgOrganizationStore } from "../../src/adapters/postgres/organization-store.js";
import { PgSlackLinks, PgSlackThreads } from "../../src/adapters/postgres/slack.js";
import type { Database } from "../../src/db/database.js";
import { openDatabase } from "../../src/db/open.js";
import { testPgliteTemplate } from "../fixtures/pglite.js";
import { Organizations } from "../../src/organizations/index.js";
import { flushPrefix, freshDatabase, freshPrefix, hasInfra, infra, tempDir } from "../fixtures/backends.js";
import { Webhooks } from "@nubabel/contracts";
import { eventDedupeContract, slackLinksContract, slackThreadsContract } from "./port-contracts.js";

// The Slack adapters on both storage kinds, migrated as the server migrates, against the port contracts.
const kinds = hasInfra ? (["PGlite", "PostgreSQL"] as const) : (["PGlite"] as const);

for (const kind of kinds) {
  describe(`Slack adapters on ${kind}`, () => {
    const folder = tempDir("slack-pg");
    let drop: (() => Promise<void>) | undefined;
    let database: Database;
    const orgs: [string, string] = ["", ""];

    beforeAll(async () => {
      let url: string | undefined;
      if (kind === "PostgreSQL") {
        const fresh = await freshDatabase();
        url = fresh.url;
        drop = fresh.drop;
      }
      database = await openDatabase({ DATABASE_URL: url, NUBABEL_DATA_DIR: folder.dir }, 0, await testPgliteTemplate());
      const store = new PgOrganizationStore(database.db);
      orgs[0] = (await Organizations.create(store, "Acme")).organizationId;
      orgs[1] = (await Organizations.create(store, "Globex")).organizationId;
    });
    afterAll(async () => {
      await database?.close();
      await drop?.();
      folder.remove();
    });

    slackThreadsContract(kind, () => new PgSlackThreads(database.db), orgs);
    slackLinksContract(
      kind,
      async () => {
        const links = new PgSlackLinks(database.db);
        return { links, link: (team, org) => links.link(team, org) };
      },
      orgs,
    );
  });
}

describe.runIf(hasInfra)("Slack event dedupe on Redis", () => {
  const prefix = freshPrefix();
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(infra.redisUrl!);
  });
  afterAll(async () => {
    await flushPrefix(infra.redisUrl!, prefix);
    redis.disconnect();
  });
  eventDedupeContract("RedisReplayGuard", () => new Webhooks.RedisReplayGuard(redis, prefix));
});
