import { cpSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { openPostgres } from "../src/db/database.js";
import { freshDatabase, hasInfra, tempDir } from "./fixtures/backends.js";

const MIGRATIONS = fileURLToPath(new URL("../drizzle", import.meta.url));

/** The migrations folder as it was up to (and including) `tag`. */
function migrationsUpTo(tag: string): { dir: string; remove(): void } {
  const folder = tempDir("migrations");
  cpSync(MIGRATIONS, folder.dir, { recursive: true });
  const journalFile = path.join(folder.dir, "meta", "_journal.json");
  const journal = JSON.parse(readFileSync(journalFile, "utf8")) as { entries: Array<{ tag: string }> };
  journal.entries = journal.entries.slice(0, journal.entries.findIndex((e) => e.tag === tag) + 1);
  writeFileSync(journalFile, JSON.stringify(journal));
  return folder;
}

describe.runIf(hasInfra)("migrations (PostgreSQL)", () => {
  const drops: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of drops) await drop();
  });

  it("run once when several instances open a fresh database together", async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const opened = await Promise.all(Array.from({ length: 4 }, () => openPostgres(db.url, 2)));
    await Promise.all(opened.map((d) => d.close()));
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
    const journal = JSON.parse(readFileSync(path.join(MIGRATIONS, "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
    await client.end();
    expect(rows[0]!.n).toBe(journal.entries.length);
  });

  it("keeps existing sessions, their history and mappings when sessions become (organization, id)", async () => {
    const db = await freshDatabase();
    drops.push(db.drop);
    const before = migrationsUpTo("0002_slack");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await migrate(drizzle(client), { migrationsFolder: before.dir });
      before.remove();
      await client.query("insert into organizations (id, name) values ('org_a', 'A'), ('org_b', 'B')");
      await client.query(`insert into sessions (id, organization_id, state) values ('thread-1', 'org_a', '{"opencodeSessionId":"ses_x","status":"completed"}')`);
      await client.query("insert into messages (id, session_id, role, content) values ('msg_1', 'thread-1', 'user', 'hello'), ('msg_2', 'thread-1', 'assistant', 'hi')");
      await client.query("insert into session_mappings (session_id, opencode_session_id, organization_id, sidecar_url) values ('thread-1', 'ses_x', 'org_a', 'http://s')");

      const database = await openPostgres(db.url, 2);
      await database.close();

      const messages = await client.query("select organization_id, session_id, content from messages order by seq");
      expect(messages.rows).toEqual([
        { organization_id: "org_a", session_id: "thread-1", content: "hello" },
        { organization_id: "org_a", session_id: "thread-1", content: "hi" },
      ]);
      const mapping = await client.query("select organization_id, session_id, opencode_session_id from session_mappings");
      expect(mapping.rows).toEqual([{ organization_id: "org_a", session_id: "thread-1", opencode_session_id: "ses_x" }]);
      // Now another organization may use the same id.
      await client.query(`insert into sessions (id, organization_id, state) values ('thread-1', 'org_b', '{"opencodeSessionId":null,"status":"created"}')`);
      const sessions = await client.query("select organization_id from sessions where id = 'thread-1' order by organization_id");
      expect(sessions.rows.map((r: { organization_id: string }) => r.organization_id)).toEqual(["org_a", "org_b"]);
    } finally {
      await client.end();
    }
  });
});
