import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
// The core, wired exactly as main.ts should (see `nubabelPortOverCore`): proof the ports fit it.
import { MemoryLock } from "../../src/adapters/memory/lock.js";
import { MemoryMappingCache } from "../../src/adapters/memory/mapping-cache.js";
import { MemoryProgressLog } from "../../src/adapters/memory/progress-log.js";
import { PgMappingStore } from "../../src/adapters/postgres/mapping-store.js";
import { PgOrganizationStore } from "../../src/adapters/postgres/organization-store.js";
import { PgSessionStore } from "../../src/adapters/postgres/session-store.js";
import { openPglite, type Database } from "../../src/db/database.js";
import { Delegation } from "../../src/delegation/index.js";
import { SessionMapping } from "../../src/mapping/session-mapping.js";
import { Organizations } from "../../src/organizations/index.js";
import type { ProgressLog } from "../../src/progress/progress-log.js";
import type { SessionStore } from "../../src/sessions/index.js";
import { SidecarClient } from "../../src/sidecar/index.js";
import { watchProgressLog, type NubabelPort } from "../../src/slack/index.js";
import { tempDir } from "../fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "../fixtures/fake-sidecar.js";
import { CHANNEL, mention, startHarness, TEAM, threadMessage, until, type Harness } from "./harness.js";

/** The NubabelPort main.ts builds over the core (the same lines go there). */
function nubabelPortOverCore(core: { delegation: Delegation; sessions: SessionStore; mapping: SessionMapping; sidecar: SidecarClient; progress: ProgressLog }): NubabelPort {
  return {
    delegate: (turn) => core.delegation.run(turn),
    abort: async ({ organizationId, sessionId }) => {
      const session = await core.sessions.get(sessionId);
      if (!session || session.organizationId !== organizationId) return false;
      const mapped = await core.mapping.bySession(sessionId);
      if (!mapped) return false;
      return (await core.sidecar.abort(mapped.sidecarUrl, mapped.opencodeSessionId)).aborted;
    },
    watchProgress: watchProgressLog(core.progress),
  };
}

describe("the Slack bot over Nubabel's real core (PGlite, Delegation, SidecarClient)", () => {
  const secret = Webhooks.generateSecret();
  const logger = pino({ level: "silent" });
  const folder = tempDir("slack-core");
  let database: Database;
  let sidecar: FakeSidecar;
  let organizationId: string;
  let h: Harness | undefined;

  const start = async (sidecarUrl: string): Promise<Harness> => {
    const sessions = new PgSessionStore(database.db);
    const mapping = new SessionMapping(new PgMappingStore(database.db), new MemoryMappingCache(), logger);
    const client = new SidecarClient({ secret, timeoutMs: 10_000, healthTimeoutMs: 1_000, breakerThreshold: 5, breakerResetMs: 10_000 }, logger);
    const delegation = new Delegation({
      sessions, mapping, sidecar: client, lock: new MemoryLock(), logger, tokenSecret: "x".repeat(40),
      publicUrl: () => "http://127.0.0.1:9", sidecarUrl, callbackTtlSeconds: 600, firstRunTimeoutMs: 10_000,
    });
    const port = nubabelPortOverCore({ delegation, sessions, mapping, sidecar: client, progress: new MemoryProgressLog() });
    h = await startHarness({ port });
    h.links.link(TEAM, organizationId);
    return h;
  };

  beforeAll(async () => {
    database = await openPglite(folder.dir);
    organizationId = (await Organizations.create(new PgOrganizationStore(database.db), "Acme")).organizationId;
    sidecar = await startFakeSidecar({ secret });
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  afterAll(async () => {
    await sidecar?.close();
    await database?.close();
    folder.remove();
  });

  it("resumes the thread's OpenCode session on a follow-up: the earlier turn's context reaches the agent", async () => {
    const h = await start(sidecar.url);
    const root = mention("remember the number 42");
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.startsWith("turn 1 of")), 10_000, "first answer");
    await h.deliver(threadMessage(root.ts as string, "which number?"));
    const second = await until(() => h.slack.thread(CHANNEL, root.ts as string).find((m) => m.text.startsWith("turn 2 of")), 10_000, "second answer");
    expect(second.text).toContain("which number? (earlier: remember the number 42)");
    expect(sidecar.received.map((r) => r.kind)).toEqual(["delegate", "prompt"]);
  });

  it("says the worker is unreachable within seconds when the sidecar is down", async () => {
    // Nothing listens on port 9: the real client's connection is refused.
    const h = await start("http://127.0.0.1:9");
    const root = mention("anything");
    const started = Date.now();
    await h.deliver(root);
    await until(() => h.slack.thread(CHANNEL, root.ts as string).some((m) => m.text.includes("can't reach my worker")), 5_000, "outage message");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
