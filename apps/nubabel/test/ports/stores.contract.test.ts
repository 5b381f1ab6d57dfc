import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgMappingStore } from "../../src/adapters/postgres/mapping-store.js";
import { PgOrganizationStore } from "../../src/adapters/postgres/organization-store.js";
import { PgRunStore } from "../../src/adapters/postgres/run-store.js";
import { PgSessionStore } from "../../src/adapters/postgres/session-store.js";
import { openPostgres, type Database } from "../../src/db/database.js";
import { openTestPglite } from "../fixtures/pglite.js";
import { ensureDevOrganization } from "../../src/organizations/dev-organization.js";
import { Organizations } from "../../src/organizations/index.js";
import { SessionNotFound, Sessions } from "../../src/sessions/index.js";
import { freshDatabase, infra, tempDir } from "../fixtures/backends.js";

/** The durable ports' promises, on PGlite (the embedded default) and on PostgreSQL. */
const backends: Array<[string, () => Promise<{ database: Database; drop(): Promise<void> }>]> = [
  ["pglite", async () => ({ database: await openTestPglite(), drop: async () => undefined })],
];
if (infra.databaseUrl) {
  backends.push([
    "postgres",
    async () => {
      const fresh = await freshDatabase();
      // Migrations applied twice (as by two instances starting) must be harmless.
      await (await openPostgres(fresh.url)).close();
      return { database: await openPostgres(fresh.url), drop: fresh.drop };
    },
  ]);
}

describe.each(backends)("durable stores (%s)", (_name, open) => {
  let database: Database;
  let drop: () => Promise<void>;
  let orgs: PgOrganizationStore;
  let sessions: PgSessionStore;
  let mappings: PgMappingStore;
  let orgA: string;
  let orgB: string;

  beforeAll(async () => {
    ({ database, drop } = await open());
    orgs = new PgOrganizationStore(database.db);
    sessions = new PgSessionStore(database.db);
    mappings = new PgMappingStore(database.db);
    orgA = (await Organizations.create(orgs, "A")).organizationId;
    orgB = (await Organizations.create(orgs, "B")).organizationId;
  });
  afterAll(async () => {
    await database?.close();
    await drop?.();
  });

  it("keeps only a hash of each API key and finds the organization by the key", async () => {
    const { organizationId, apiKey } = await Organizations.create(orgs, "Keys Inc");
    expect(apiKey).toMatch(/^nbk_[A-Za-z0-9_-]{43}$/);
    expect((await Organizations.authenticate(orgs, apiKey))?.id).toBe(organizationId);
    expect(await Organizations.authenticate(orgs, `${apiKey}x`)).toBeUndefined();
    expect(await Organizations.authenticate(orgs, "nbk_")).toBeUndefined();
    const { rows } = (await database.db.execute(sql`select key_hash, prefix from api_keys where organization_id = ${organizationId}`)) as unknown as {
      rows: Array<{ key_hash: string; prefix: string }>;
    };
    expect(rows).toHaveLength(1);
    expect(rows[0]!.key_hash).toBe(Organizations.hashKey(apiKey));
    expect(JSON.stringify(rows)).not.toContain(apiKey);
    const listed = await orgs.list();
    expect(listed.find((o) => o.id === organizationId)).toMatchObject({ name: "Keys Inc", keys: 1 });
  });

  it("never leaves an organization without a working key, nor over its bound, under concurrent changes", async () => {
    const { organizationId } = await Organizations.create(orgs, "Racing Keys");
    const extra = Organizations.generateKey().stored;
    expect(await orgs.addKey(organizationId, { ...extra, name: "spare" }, { active: 20, revoked: 100 })).toMatchObject({ id: extra.id, name: "spare", prefix: extra.prefix });
    const keys = (await orgs.listKeys(organizationId))!;
    expect(keys).toHaveLength(2);
    // Both revoked at once: one goes, the other is the last and stays.
    const outcomes = await Promise.all(keys.map((k) => orgs.revokeKey(organizationId, k.id)));
    expect(outcomes.filter((o) => o === "last_key")).toHaveLength(1);
    expect((await orgs.listKeys(organizationId))!.filter((k) => !k.revokedAt)).toHaveLength(1);
    // Five added at once under a bound of three unrevoked keys: two get in.
    const added = await Promise.all(Array.from({ length: 5 }, () => orgs.addKey(organizationId, Organizations.generateKey().stored, { active: 3, revoked: 100 })));
    expect(added.filter((a) => a === "too_many")).toHaveLength(3);
    expect((await orgs.listKeys(organizationId))!.filter((k) => !k.revokedAt)).toHaveLength(3);
    // Revoked keys are kept up to the bound, the latest revoked; the next key made prunes the rest.
    const active = (await orgs.listKeys(organizationId))!.filter((k) => !k.revokedAt);
    for (const k of active.slice(0, 2)) expect(await orgs.revokeKey(organizationId, k.id)).toMatchObject({ now: true });
    expect((await orgs.listKeys(organizationId))!.filter((k) => k.revokedAt)).toHaveLength(3);
    await orgs.addKey(organizationId, Organizations.generateKey().stored, { active: 3, revoked: 1 });
    const kept = (await orgs.listKeys(organizationId))!.filter((k) => k.revokedAt);
    expect(kept.map((k) => k.id)).toEqual([active[1]!.id]);
    // Another organization's key is not found, and an unknown organization has no keys.
    expect(await orgs.revokeKey(orgA, keys[0]!.id)).toBe("not_found");
    expect(await orgs.revokeKey("org_missing", keys[0]!.id)).toBe("no_organization");
    expect(await orgs.listKeys("org_missing")).toBeUndefined();
    expect(await orgs.addKey("org_missing", Organizations.generateKey().stored, { active: 3, revoked: 100 })).toBe("no_organization");
  });

  it("gives the development organization a new key when its key was revoked, and re-creates it only when gone", async () => {
    const data = tempDir("dev-org");
    try {
      const file = path.join(data.dir, "dev-organization.json");
      const first = await ensureDevOrganization(orgs, file);
      expect(first.created).toBe(true);
      expect(await ensureDevOrganization(orgs, file)).toEqual({ org: first.org, created: false });
      // Its key revoked (after another was made): the same organization, a new working key in the file.
      await orgs.addKey(first.org.organizationId, Organizations.generateKey().stored, { active: 20, revoked: 100 });
      const [devKey] = (await orgs.listKeys(first.org.organizationId))!;
      expect(await orgs.revokeKey(first.org.organizationId, devKey!.id)).toMatchObject({ now: true });
      const rekeyed = await ensureDevOrganization(orgs, file);
      expect(rekeyed.created).toBe(false);
      expect(rekeyed.org.organizationId).toBe(first.org.organizationId);
      expect(rekeyed.org.apiKey).not.toBe(first.org.apiKey);
      expect((await Organizations.authenticate(orgs, rekeyed.org.apiKey))?.id).toBe(first.org.organizationId);
      expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(rekeyed.org);
      // A file naming an organization the database does not have: a new one.
      writeFileSync(file, JSON.stringify({ organizationId: "org_gone", apiKey: rekeyed.org.apiKey.replace(/.$/, "x") }));
      const again = await ensureDevOrganization(orgs, file);
      expect(again.created).toBe(true);
      expect(again.org.organizationId).not.toBe(first.org.organizationId);
    } finally {
      data.remove();
    }
  });

  it("creates a session once under concurrent first use; another organization's same id is its own session", async () => {
    const id = `race-${Math.random()}`;
    const all = await Promise.all(Array.from({ length: 8 }, () => Sessions.open(sessions, orgA, id)));
    expect(new Set(all.map((s) => s.createdAt.getTime())).size).toBe(1);
    expect(all[0]!.state).toEqual({ opencodeSessionId: null, status: "created" });
    await expect(Sessions.get(sessions, orgB, id)).rejects.toBeInstanceOf(SessionNotFound);
    const theirs = await Sessions.open(sessions, orgB, id);
    expect(theirs.organizationId).toBe(orgB);
    await sessions.setState(orgB, id, { opencodeSessionId: "ses_b", status: "running" });
    expect((await sessions.get(orgA, id))?.state).toEqual({ opencodeSessionId: null, status: "created" });
    const fresh = await Sessions.open(sessions, orgA, undefined);
    expect(fresh.id).toMatch(/^ses_/);
  });

  it("lists an organization's sessions newest first, page after page, none missed or repeated", async () => {
    const { organizationId: org } = await Organizations.create(orgs, "Lister");
    // Five sessions in one instant (a tie on the time, broken by id) and two later ones.
    for (const id of ["t-a", "t-b", "t-c", "t-d", "t-e"]) {
      await database.db.execute(sql`insert into sessions (id, organization_id, state, created_at) values (${id}, ${org}, ${JSON.stringify({ opencodeSessionId: null, status: "created" })}::jsonb, ${"2026-11-02T10:00:00.000456Z"}::timestamptz)`);
    }
    await Sessions.open(sessions, org, "later-1");
    await Sessions.open(sessions, org, "later-2");
    await Sessions.open(sessions, orgB, "not-mine");
    const seen: string[] = [];
    let after: Sessions.Position | undefined;
    for (;;) {
      const page = await sessions.list(org, { limit: 2, ...(after ? { after } : {}) });
      seen.push(...page.map((s) => s.id));
      if (page.length < 2) break;
      after = { createdAt: page.at(-1)!.createdAt, id: page.at(-1)!.id };
    }
    expect(seen.slice(2)).toEqual(["t-e", "t-d", "t-c", "t-b", "t-a"]);
    expect(new Set(seen.slice(0, 2))).toEqual(new Set(["later-1", "later-2"]));
    expect(seen).not.toContain("not-mine");
  });

  it("stores state and keeps messages in insertion order", async () => {
    const { id } = await Sessions.open(sessions, orgA, undefined);
    await sessions.setState(orgA, id, { opencodeSessionId: "ses_oc", status: "running" });
    for (let i = 0; i < 5; i++) {
      await sessions.addMessage(orgA, id, { id: Sessions.messageId(), role: i % 2 ? "assistant" : "user", content: `m${i}`, metadata: { i } });
    }
    expect((await sessions.get(orgA, id))?.state).toEqual({ opencodeSessionId: "ses_oc", status: "running" });
    const history = await sessions.messages(orgA, id);
    expect(history.map((m) => m.content)).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(history[3]).toMatchObject({ role: "assistant", metadata: { i: 3 } });
  });

  it("keeps the first mapping of a session however many writers race, and finds it both ways", async () => {
    const { id } = await Sessions.open(sessions, orgA, undefined);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        mappings.insert({ sessionId: id, opencodeSessionId: `ses_oc_${id}_${i}`, organizationId: orgA, sidecarUrl: "http://s1" }),
      ),
    );
    const winner = results[0]!;
    expect(results.every((r) => r.opencodeSessionId === winner.opencodeSessionId)).toBe(true);
    expect(await mappings.bySession(orgA, id)).toEqual(winner);
    expect(await mappings.bySession(orgB, id)).toBeUndefined();
    expect(await mappings.byOpencode(winner.opencodeSessionId)).toEqual(winner);
    expect(await mappings.bySession(orgA, "missing")).toBeUndefined();
    expect(await mappings.byOpencode("missing")).toBeUndefined();
  });

  it("admits a run that starts at once with its session's mapping as the database holds it, moved or not", async () => {
    const runs = new PgRunStore(database.db);
    const limits = { maxRunning: 1, maxQueued: 5 };
    const admit = (id: string, sessionId: string) => runs.admit({ id, organizationId: orgB, sessionId, prompt: "p", origin: { kind: "api" } }, limits);
    // A new session has no mapping to read.
    const first = await admit("run_map1", "ses_map");
    expect(first).toMatchObject({ newSession: true, run: { status: "running" } });
    expect(first).not.toHaveProperty("mapping");
    await runs.finish("run_map1", { status: "failed", reason: "never placed" }, []);
    // An existing session without one: none, said so.
    expect(await admit("run_map2", "ses_map")).toMatchObject({ newSession: false, mapping: null });
    await mappings.insert({ sessionId: "ses_map", opencodeSessionId: "ses_oc_map1", organizationId: orgB, sidecarUrl: "http://s1" });
    // Queued behind the running one: read when it starts, not now.
    const queued = await admit("run_map3", "ses_map");
    expect(queued).toMatchObject({ run: { status: "queued" } });
    expect(queued).not.toHaveProperty("mapping");
    for (const id of ["run_map2", "run_map3"]) await runs.finish(id, { status: "aborted", reason: "stopped" }, []);
    // Moved by the run before: the follow-up goes to the new place.
    await mappings.move({ sessionId: "ses_map", opencodeSessionId: "ses_oc_map2", organizationId: orgB, sidecarUrl: "http://s2" }, "ses_oc_map1");
    expect(await admit("run_map4", "ses_map")).toMatchObject({ run: { status: "running" }, mapping: { opencodeSessionId: "ses_oc_map2", sidecarUrl: "http://s2" } });
    // Another organization's session of the same id is not this one's.
    expect(await runs.admit({ id: "run_map5", organizationId: orgA, sessionId: "ses_map", prompt: "p", origin: { kind: "api" } }, limits)).toMatchObject({ newSession: true });
  });
});
