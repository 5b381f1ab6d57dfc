import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MemoryProgressLog } from "../src/adapters/memory/progress-log.js";
import { PgOrganizationStore } from "../src/adapters/postgres/organization-store.js";
import { PgRunStore } from "../src/adapters/postgres/run-store.js";
import { type Database } from "../src/db/database.js";
import { openTestPglite } from "./fixtures/pglite.js";
import { Organizations } from "../src/organizations/index.js";
import { Runs, type RunsDeps } from "../src/runs/runs.js";

/**
 * Waits on runs that end where this instance is not told (another instance, its announcement
 * lost): one read of all of them each `pollMs` wakes them, not one read per wait.
 */
describe("waiting on runs that end elsewhere, unannounced (PGlite)", () => {
  let database: Database;
  let store: PgRunStore;
  let organizationId = "";
  beforeAll(async () => {
    database = await openTestPglite();
    store = new PgRunStore(database.db);
    organizationId = (await Organizations.create(new PgOrganizationStore(database.db), "Waits")).organizationId;
  });
  afterAll(() => database.close());

  it("wakes every wait once its run has ended, with one statement a sweep", async () => {
    const reads: string[][] = [];
    const counted: PgRunStore = Object.assign(Object.create(store) as PgRunStore, {
      ended: (ids: string[]) => (reads.push(ids), store.ended(ids)),
    });
    // Only what `wait` uses; the progress log never announces (the announcement is the one lost).
    const runs = new Runs({ store: counted, progress: new MemoryProgressLog(), logger: pino({ level: "silent" }), pollMs: 50, limits: { maxRunning: 10, maxQueued: 10 } } as unknown as RunsDeps);
    const admitted = [];
    for (let i = 0; i < 3; i++) {
      const made = await store.admit({ id: `run_wait${i}`, organizationId, sessionId: `ses_wait${i}`, prompt: "p", origin: { kind: "api" } }, { maxRunning: 10, maxQueued: 10 });
      if ("refused" in made) throw new Error("refused");
      admitted.push(made.run);
    }
    const waits = admitted.map((run) => runs.wait(run));
    let settled = 0;
    for (const wait of waits) void wait.then(() => settled++);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(0);
    expect(reads.at(-1)?.sort()).toEqual(["run_wait0", "run_wait1", "run_wait2"]);
    // Ended behind this instance's back, as another instance would.
    await store.finish("run_wait1", { status: "completed", output: "done" }, []);
    await expect(waits[1]).resolves.toMatchObject({ id: "run_wait1", status: "completed" });
    expect(settled).toBe(1);
    for (const id of ["run_wait0", "run_wait2"]) await store.finish(id, { status: "aborted", reason: "stopped" }, []);
    await expect(Promise.all(waits)).resolves.toHaveLength(3);
    // Nothing waited on: the sweep stops.
    const after = reads.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(reads.length).toBeLessThanOrEqual(after + 1);
  });

  it("stops waiting when the caller's signal aborts", async () => {
    const runs = new Runs({ store, progress: new MemoryProgressLog(), logger: pino({ level: "silent" }), pollMs: 10_000 } as unknown as RunsDeps);
    const made = await store.admit({ id: "run_abandoned", organizationId, sessionId: "ses_abandoned", prompt: "p", origin: { kind: "api" } }, { maxRunning: 10, maxQueued: 10 });
    if ("refused" in made) throw new Error("refused");
    const leaving = new AbortController();
    const wait = runs.wait(made.run, leaving.signal);
    setTimeout(() => leaving.abort(new Error("caller left")), 50);
    await expect(wait).rejects.toThrow("caller left");
  });
});
