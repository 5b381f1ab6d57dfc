import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SidecarRun } from "@nubabel/contracts";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";
import { processesIn, spawnSidecar, waitFor } from "./processes.js";
import { redisUrl } from "./infra.js";


/** Runs outlive the sidecar that ran them (in Redis); one cut off by a crash reads failed, not running. */
describe("runs across a sidecar restart (Redis)", () => {
  let h!: Harness;
  const redis = { REDIS_URL: redisUrl, REDIS_PREFIX: `sidecar-test:${randomUUID()}:` };
  useHarness(redis, (started) => (h = started));
  const crashedDir = mkdtempSync(path.join(os.tmpdir(), "sidecar-crashed-"));
  afterAll(() => rmSync(crashedDir, { recursive: true, force: true }));

  it("a finished run is still readable, a run cut off by the crash reads failed with the reason", async () => {
    const health = await (await fetch(`${h.sidecar.url}/health`)).json();
    expect(health).toMatchObject({ status: "healthy", redis: { ok: true } });

    // The sidecar that crashes runs as its own process, on the same Redis.
    const crashing = spawnSidecar(h.env({ SIDECAR_DATA_DIR: crashedDir }));
    const url = await crashing.listening;
    const async = { headers: { prefer: "respond-async" }, base: url };
    h.model.script({ text: "Done before the crash." });
    const finished = await h.post("/delegate", delegateBody(h, "ses_before", "quick"), async);
    await waitFor(async () => (await h.get(`/runs/${finished.body.runId}`, { base: url })).body.status === "completed", 60_000, "the first run");
    h.model.script({ hang: true });
    const cut = await h.post("/delegate", delegateBody(h, "ses_cut", "forever"), async);
    await h.model.waitForRequests(2, 30_000);
    expect((await h.get(`/runs/${cut.body.runId}`, { base: url })).body.status).toBe("running");

    crashing.child.kill("SIGKILL");
    await crashing.exited;
    // A SIGKILLed sidecar cannot stop its engine: the operator's supervisor would; so does the test.
    for (const pid of processesIn(crashedDir)) process.kill(pid, "SIGKILL");

    // Another process on the same Redis (the restarted sidecar) answers for both.
    const before = SidecarRun.parse((await h.get(`/runs/${finished.body.runId}`)).body);
    expect(before).toMatchObject({ status: "completed", output: "Done before the crash.", nubabelSessionId: "ses_before" });
    expect(before.usage!.outputTokens).toBeGreaterThan(0);
    const lost = SidecarRun.parse((await h.get(`/runs/${cut.body.runId}`)).body);
    expect(lost).toMatchObject({ status: "failed", error: { code: "sidecar_restarted" } });
    expect(lost.error!.message).toMatch(/restarted while this run was in progress/);
    expect(lost.finishedAt).toBeDefined();

    // And it stays so across one more restart.
    await h.restart();
    expect((await h.get(`/runs/${finished.body.runId}`)).body).toMatchObject({ status: "completed", output: "Done before the crash." });
    expect((await h.get(`/runs/${cut.body.runId}`)).body).toMatchObject({ status: "failed", finishedAt: lost.finishedAt });
  }, 180_000);
});
