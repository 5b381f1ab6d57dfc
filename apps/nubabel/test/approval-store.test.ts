import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgApprovalStore } from "../src/adapters/postgres/approval-store.js";
import { PgOrganizationStore } from "../src/adapters/postgres/organization-store.js";
import type { Database } from "../src/db/database.js";
import { openDatabase } from "../src/db/open.js";
import { testPgliteTemplate } from "./fixtures/pglite.js";
import { approvals, runs, sessions } from "../src/db/schema.js";
import { Organizations } from "../src/organizations/index.js";
import { freshDatabase, hasInfra, tempDir } from "./fixtures/backends.js";

// The claim behind posting each approval's Slack message once, on both storage kinds, migrated as
// the server migrates. On PostgreSQL the racing claims come from two pools, as two instances' would.
const kinds = hasInfra ? (["PGlite", "PostgreSQL"] as const) : (["PGlite"] as const);

for (const kind of kinds) {
  describe(`approval messages' claims on ${kind}`, () => {
    const folder = tempDir("approval-store");
    let drop: (() => Promise<void>) | undefined;
    let database: Database;
    let other: Database;
    let store: PgApprovalStore;
    let rival: PgApprovalStore;
    let org = "";
    let seq = 0;

    beforeAll(async () => {
      let url: string | undefined;
      if (kind === "PostgreSQL") {
        const fresh = await freshDatabase();
        url = fresh.url;
        drop = fresh.drop;
      }
      database = await openDatabase({ DATABASE_URL: url, NUBABEL_DATA_DIR: folder.dir }, 0, await testPgliteTemplate());
      // PGlite is one connection in one process: the second "instance" shares it.
      other = url ? await openDatabase({ DATABASE_URL: url, NUBABEL_DATA_DIR: folder.dir }, 0, await testPgliteTemplate()) : database;
      store = new PgApprovalStore(database.db);
      rival = new PgApprovalStore(other.db);
      org = (await Organizations.create(new PgOrganizationStore(database.db), "Acme")).organizationId;
      await database.db.insert(sessions).values({ id: "ses_claims", organizationId: org, state: { opencodeSessionId: null, status: "idle" } });
    });
    afterAll(async () => {
      if (other !== database) await other?.close();
      await database?.close();
      await drop?.();
      folder.remove();
    });

    /** A pending approval of a new run from Slack (or the API), asked `ageMs` ago. */
    async function pending(origin: "slack" | "api", ageMs = 60_000) {
      const runId = `run_claims${++seq}`;
      const slack = { kind: "slack", teamId: "T1", channelId: "C1", threadTs: "1.1", userId: "U1" };
      await database.db.insert(runs).values({ id: runId, organizationId: org, sessionId: "ses_claims", status: "running", prompt: "p", origin: (origin === "slack" ? slack : { kind: "api" }) as never });
      const at = Date.now() - ageMs;
      const { approval } = await store.create({
        id: `apr_claims${seq}`,
        organizationId: org,
        runId,
        sessionId: "ses_claims",
        requestId: `per_${seq}`,
        callId: null,
        tool: "echo",
        arguments: {},
        approvers: "requester",
        requestedAt: new Date(at).toISOString(),
        expiresAt: new Date(at + 600_000).toISOString(),
      });
      return approval;
    }
    const fresh = () => new Date(Date.now() - 120_000);
    const unposted = async (except: string[] = []) => (await store.unpostedSlack({ requestedBefore: new Date(Date.now() - 20_000), claimedBefore: fresh(), except, limit: 100 })).map((a) => a.id);

    it("gives one approval to exactly one of many racing claims", async () => {
      const approval = await pending("slack");
      const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 ? rival : store).claimSlack(approval.id, fresh())));
      expect(claims.filter(Boolean)).toHaveLength(1);
      // Claimed: no longer among the missing, and nobody claims it again while the claim is fresh.
      expect(await unposted()).not.toContain(approval.id);
      expect(await rival.claimSlack(approval.id, fresh())).toBe(false);
    });

    it("lists only pending approvals of Slack runs without a message, past the grace, unclaimed or claimed long ago", async () => {
      const missing = await pending("slack");
      const api = await pending("api");
      const young = await pending("slack", 1_000);
      const posted = await pending("slack");
      await store.setSlackMessage(posted.id, "C1", "2.2");
      const decided = await pending("slack");
      await store.decide(org, decided.id, { status: "denied", decidedBy: "api", reason: "" });
      const abandoned = await pending("slack");
      expect(await store.claimSlack(abandoned.id, fresh())).toBe(true);
      await database.db.update(approvals).set({ slackClaimedAt: sql`now() - interval '10 minutes'` }).where(eq(approvals.id, abandoned.id));

      const ids = await unposted();
      expect(ids).toEqual(expect.arrayContaining([missing.id, abandoned.id]));
      for (const id of [api.id, young.id, posted.id, decided.id]) expect(ids).not.toContain(id);
      expect(await unposted([missing.id])).not.toContain(missing.id);
      // A claim left by a poster that died is taken again; a message posted or a decision ends claims.
      expect(await rival.claimSlack(abandoned.id, fresh())).toBe(true);
      expect(await store.claimSlack(posted.id, fresh())).toBe(false);
      expect(await store.claimSlack(decided.id, fresh())).toBe(false);
    });

    it("a released claim (the post failed) is listed and claimed again", async () => {
      const approval = await pending("slack");
      expect(await store.claimSlack(approval.id, fresh())).toBe(true);
      await store.releaseSlack(approval.id);
      expect(await unposted()).toContain(approval.id);
      expect(await rival.claimSlack(approval.id, fresh())).toBe(true);
      const [row] = await database.db.select({ at: approvals.slackClaimedAt }).from(approvals).where(eq(approvals.id, approval.id));
      expect(row!.at).toBeInstanceOf(Date);
    });
  });
}
