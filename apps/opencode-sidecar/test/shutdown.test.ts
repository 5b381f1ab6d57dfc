import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import { EngineSupervisor } from "../src/engine/supervisor.js";
import { createLogger } from "../src/logger.js";
import { startSidecar } from "../src/main.js";
import { delegateBody, type Harness, startHarness } from "./fixtures.js";
import { alive, processesIn, spawnSidecar, waitFor } from "./processes.js";

/** Acceptance 8: shutdown drains, aborts with a reason, and never leaves an engine process behind. */
describe("sidecar shutdown", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "sidecar-shutdown-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  };

  it("close() refuses new runs, lets running turns go on for the grace period, then aborts them with the reason", async () => {
    const h: Harness = await startHarness({ SHUTDOWN_GRACE_MS: "1500" });
    cleanups.push(() => h.close());
    const enginePid = (h.sidecar.engine as EngineSupervisor).pid!;
    h.model.script({ hang: true }, { hang: true });
    const async = await h.post("/delegate", delegateBody(h, "ses_bye", "forever", { callbacks: h.receiver.callbacks("ses_bye", { runResult: true }) }), {
      headers: { prefer: "respond-async" },
    });
    const waiting = h.post("/delegate", delegateBody(h, "ses_bye_sync", "forever too"));
    await h.model.waitForRequests(2, 90_000);

    const closing = h.sidecar.close();
    const refused = await h.post("/delegate", delegateBody(h, "ses_late", "too late"));
    expect(refused).toMatchObject({ status: 503, body: { error: { code: "draining" } } });
    const health = await fetch(`${h.sidecar.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "degraded", draining: true });
    // Still answering for its runs while it drains.
    expect((await h.get(`/runs/${async.body.runId}`)).body).toMatchObject({ status: "running" });
    await closing;

    expect((await waiting).body).toMatchObject({ status: "aborted", error: { code: "shutting_down", message: "the sidecar is shutting down" } });
    const results = h.receiver.results(async.body.runId);
    expect(results.map((r) => r.body)).toMatchObject([{ status: "aborted", error: { message: "the sidecar is shutting down" } }]);
    expect(alive(enginePid)).toBe(false);
    expect(processesIn(h.dataDir)).toEqual([]);
  }, 180_000);

  it("POST /drain refuses new runs and follow-ups for a deploy, lets the running turn finish, reports its load, and undoes", async () => {
    const h: Harness = await startHarness({ SIDECAR_CAPACITY: "7" });
    cleanups.push(() => h.close());
    expect(await (await fetch(`${h.sidecar.url}/health`)).json()).toMatchObject({ status: "healthy", load: { runs: 0, capacity: 7 } });
    const unsigned = await fetch(`${h.sidecar.url}/drain`, { method: "POST", body: '{"drain":true}', headers: { "content-type": "application/json" } });
    expect(unsigned.status).toBe(401);
    expect(await h.post("/drain", { drain: "yes" })).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining("drain") } } });

    const first = await h.post("/delegate", delegateBody(h, "ses_deploy", "first"));
    expect(first.status).toBe(200);
    h.model.script({ text: "finished while drained", delayMs: 2_000 });
    const running = h.post("/delegate", delegateBody(h, "ses_deploy_2", "slow one"));
    await h.model.waitForRequests(2, 60_000);

    expect(await h.post("/drain", { drain: true })).toMatchObject({ status: 200, body: { draining: true, runs: 1 } });
    const health = await fetch(`${h.sidecar.url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: "degraded", draining: true, load: { runs: 1, capacity: 7 } });
    const refused = await h.post("/delegate", delegateBody(h, "ses_new", "refused"));
    expect(refused).toMatchObject({ status: 503, body: { error: { code: "draining", message: expect.stringContaining("drained") } } });
    const followUp = await h.post(`/sessions/${first.body.metadata.opencodeSessionId}/prompt`, { prompt: "refused too" });
    expect(followUp).toMatchObject({ status: 503, body: { error: { code: "draining" } } });

    expect((await running).body).toMatchObject({ status: "success", output: "finished while drained" });
    expect(await h.post("/drain", { drain: true })).toMatchObject({ body: { draining: true, runs: 0 } });
    expect(await h.post("/drain", { drain: false })).toMatchObject({ body: { draining: false, runs: 0 } });
    expect((await h.post("/delegate", delegateBody(h, "ses_back", "served again"))).status).toBe(200);
  }, 180_000);

  it("a start stopped while the engine is still starting leaves no engine process", async () => {
    const dataDir = tempDir();
    const stopping = new AbortController();
    const starting = startSidecar(
      { SIDECAR_PORT: "0", SIDECAR_SHARED_SECRET: Webhooks.generateSecret(), SIDECAR_DATA_DIR: dataDir, LOG_LEVEL: "silent", ENGINE_START_TIMEOUT_MS: "90000" },
      { signal: stopping.signal },
    );
    const [pid] = await waitFor(() => (processesIn(dataDir).length ? processesIn(dataDir) : undefined), 30_000, "the engine process");
    stopping.abort();
    await expect(starting).rejects.toThrow(/stopped while/);
    expect(alive(pid!)).toBe(false);
    expect(processesIn(dataDir)).toEqual([]);
  });

  it("the supervisor stopped before its child exists never spawns one", async () => {
    const dataDir = tempDir();
    const engine = new EngineSupervisor({ dataDir, config: {}, env: {}, startTimeoutMs: 90_000, logger: createLogger("silent") });
    const starting = engine.start();
    await engine.stop();
    await expect(starting).rejects.toThrow(/stopped while it was starting/);
    expect(engine.pid).toBeUndefined();
    expect(processesIn(dataDir)).toEqual([]);
  });

  it("the command: SIGTERM during the start, and SIGTERM during a turn, leave no engine process", async () => {
    const h = await startHarness({});
    cleanups.push(() => h.close());

    const early = tempDir();
    const first = spawnSidecar(h.env({ SIDECAR_DATA_DIR: early }));
    cleanups.push(() => killAll(first.child, early));
    const [earlyPid] = await waitFor(() => (processesIn(early).length ? processesIn(early) : undefined), 60_000, "the engine process");
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(alive(earlyPid!)).toBe(false);

    const busy = tempDir();
    const second = spawnSidecar(h.env({ SIDECAR_DATA_DIR: busy, SHUTDOWN_GRACE_MS: "500" }));
    cleanups.push(() => killAll(second.child, busy));
    const url = await second.listening;
    const [busyPid] = processesIn(busy);
    expect(busyPid).toBeDefined();
    h.model.script({ hang: true });
    const pending = h.post("/delegate", delegateBody(h, "ses_sigterm", "forever"), { base: url });
    pending.catch(() => undefined); // awaited below; a failed test must not leave it unhandled
    // A cold engine on a busy machine takes a while to reach the model.
    await h.model.waitForRequests(1, 90_000);
    second.child.kill("SIGTERM");
    expect((await pending).body).toMatchObject({ status: "aborted", error: { code: "shutting_down" } });
    expect(await second.exited).toBe(0);
    expect(alive(busyPid!)).toBe(false);
    expect(processesIn(busy)).toEqual([]);
  }, 240_000);

  it("kill -9 of the sidecar takes its engine with it", async () => {
    const h = await startHarness({});
    cleanups.push(() => h.close());
    const dir = tempDir();
    const sidecar = spawnSidecar(h.env({ SIDECAR_DATA_DIR: dir }));
    cleanups.push(() => killAll(sidecar.child, dir));
    await sidecar.listening;
    const [engine] = await waitFor(() => (processesIn(dir).length ? processesIn(dir) : undefined), 60_000, "the engine process");
    sidecar.child.kill("SIGKILL");
    await sidecar.exited;
    await waitFor(() => !alive(engine!), 10_000, "the engine to die with the sidecar");
    expect(processesIn(dir)).toEqual([]);
  }, 120_000);
});

/** A test that failed half-way still leaves nothing running: the sidecar, and any engine in its folder. */
function killAll(child: ChildProcess, dir: string): void {
  child.kill("SIGKILL");
  for (const pid of processesIn(dir)) process.kill(pid, "SIGKILL");
}
