import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { AuditEntry, type AuditQuery } from "@nubabel/contracts";
import { PgAuditLog } from "../../src/adapters/postgres/audit-log.js";
import type { AuditRecord } from "../../src/audit/index.js";
import { AuditCursorInvalid } from "../../src/audit/index.js";
import { startRetention } from "../../src/audit/retention.js";
import { openPostgres, rowsOf, type Database } from "../../src/db/database.js";
import { openTestPglite } from "../fixtures/pglite.js";
import { createLogger } from "../../src/log/logger.js";
import { freshDatabase, infra } from "../fixtures/backends.js";

/** The audit log's PostgreSQL adapter, on PGlite and on real PostgreSQL. */
const backends: Array<[string, () => Promise<Database>]> = [["pglite", () => openTestPglite()]];
if (infra.databaseUrl) {
  const dropped: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const drop of dropped) await drop();
  });
  backends.push([
    "postgres",
    async () => {
      const fresh = await freshDatabase();
      dropped.push(fresh.drop);
      return openPostgres(fresh.url, 2);
    },
  ]);
}

const opened: Database[] = [];
afterAll(async () => {
  for (const db of opened.splice(0)) await db.close();
});

const call = (organizationId: string, n: number, extra: Partial<AuditRecord> = {}): AuditRecord => ({
  organizationId,
  kind: "tool_call",
  actor: "agent",
  action: "invoke",
  sessionId: n % 2 ? "ses-odd" : "ses-even",
  runId: `run_${String(n).padStart(26, "0")}`,
  tool: `tool-${n}`,
  status: "ok",
  durationMs: n,
  ...extra,
});

/** Every page, following `nextCursor`. */
async function all(log: PgAuditLog, org: string, query: AuditQuery = {}): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await log.list(org, { ...query, ...(cursor ? { cursor } : {}) });
    out.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

for (const [name, open] of backends) {
  describe(`PgAuditLog (${name})`, () => {
    const fresh = async () => {
      const database = await open();
      opened.push(database);
      return { database, log: new PgAuditLog(database.db) };
    };

    it("lists one organization's entries oldest first, a page at a time, each once", async () => {
      const { log } = await fresh();
      for (let n = 1; n <= 7; n++) await log.record(call("org_a", n));
      await log.record(call("org_b", 99));
      const first = await log.list("org_a", { limit: 3 });
      expect(first.entries.map((e) => e.tool)).toEqual(["tool-1", "tool-2", "tool-3"]);
      expect(first.nextCursor).toEqual(expect.any(String));
      const listed = await all(log, "org_a", { limit: 3 });
      expect(listed.map((e) => e.tool)).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => `tool-${n}`));
      expect(new Set(listed.map((e) => e.id)).size).toBe(7);
      for (const entry of listed) {
        expect(AuditEntry.parse(entry)).toEqual(entry);
        expect(entry.id).toMatch(/^aud_/);
      }
      // The last page says nothing more follows.
      expect((await log.list("org_a", { limit: 7 })).nextCursor).toBeUndefined();
      expect((await all(log, "org_b")).map((e) => e.tool)).toEqual(["tool-99"]);
    });

    it("filters by session, run and time; a cursor from elsewhere is refused", async () => {
      const { log, database } = await fresh();
      for (let n = 1; n <= 4; n++) await log.record(call("org_a", n));
      expect((await all(log, "org_a", { sessionId: "ses-odd" })).map((e) => e.tool)).toEqual(["tool-1", "tool-3"]);
      expect((await all(log, "org_a", { runId: `run_${"2".padStart(26, "0")}` })).map((e) => e.tool)).toEqual(["tool-2"]);
      // Another organization cannot filter its way into these.
      expect(await all(log, "org_b", { sessionId: "ses-odd" })).toEqual([]);

      await database.db.execute(sql`update audit_events set at = now() - interval '2 days' where tool = 'tool-1'`);
      const cut = new Date(Date.now() - 86_400_000).toISOString();
      expect((await all(log, "org_a", { from: cut })).map((e) => e.tool)).toEqual(["tool-2", "tool-3", "tool-4"]);
      expect((await all(log, "org_a", { to: cut })).map((e) => e.tool)).toEqual(["tool-1"]);

      await expect(log.list("org_a", { cursor: "not-a-cursor" })).rejects.toBeInstanceOf(AuditCursorInvalid);
    });

    it("keeps details short, leaves absent fields out, and never throws into the caller", async () => {
      const { log, database } = await fresh();
      await log.record({ organizationId: "org_a", kind: "key_rotation", actor: "operator", action: "rotate", detail: "x".repeat(2_000) });
      const [entry] = (await log.list("org_a", {})).entries;
      expect(entry).toEqual({ id: expect.any(String), at: expect.any(String), kind: "key_rotation", actor: "operator", action: "rotate", detail: "x".repeat(500) });

      const lines: string[] = [];
      const warned = new PgAuditLog(database.db, createLogger("warn", { write: (line) => void lines.push(line) }));
      await database.db.execute(sql`alter table audit_events rename to audit_events_away`);
      try {
        await expect(warned.record(call("org_a", 1))).resolves.toBeUndefined();
      } finally {
        await database.db.execute(sql`alter table audit_events_away rename to audit_events`);
      }
      expect(lines.join("")).toContain("could not record an audit entry");
    });

    it("prunes what is older than the cut, and the retention timer does so for its days", async () => {
      const { log, database } = await fresh();
      for (let n = 1; n <= 5; n++) await log.record(call("org_a", n));
      await database.db.execute(sql`update audit_events set at = now() - interval '100 days' where duration_ms <= 3`);
      const retention = startRetention({ audit: log, days: 90 });
      try {
        expect(await retention.prune()).toBe(3);
      } finally {
        retention.stop();
      }
      expect((await all(log, "org_a")).map((e) => e.tool)).toEqual(["tool-4", "tool-5"]);
      expect(await log.prune(new Date(Date.now() - 3_600_000))).toBe(0);
      expect(await startRetention({ audit: log, days: 0 }).prune()).toBe(0);
      const [left] = await rowsOf<{ n: number }>(database.db, sql`select count(*)::int as n from audit_events`);
      expect(Number(left!.n)).toBe(2);
    });
  });
}
