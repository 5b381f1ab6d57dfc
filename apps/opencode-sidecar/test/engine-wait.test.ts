import { describe, expect, it } from "vitest";
import type { EngineSupervisor } from "../src/engine/supervisor.js";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";
import { waitFor } from "./processes.js";

/** A (re)starting engine is a wait, not a refusal; an unreachable Redis is a degraded sidecar. */
describe("sidecar readiness", () => {
  describe("engine restart", () => {
    let h!: Harness;
    // The wait is generous here only because a loaded test machine restarts an engine slowly.
    useHarness({ ENGINE_WAIT_MS: "60000" }, (started) => (h = started));

    it("a run sent while the engine restarts waits for it and succeeds", async () => {
      const engine = h.sidecar.engine as EngineSupervisor;
      process.kill(engine.pid!, "SIGKILL");
      await waitFor(() => engine.state === "restarting", 10_000, "the engine to be restarting");
      h.model.script({ text: "worth the wait" });
      const res = await h.post("/delegate", delegateBody(h, "ses_wait", "hello"));
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "success", output: "worth the wait" });
      expect(engine.restarts).toBeGreaterThanOrEqual(1);
    }, 120_000);
  });

  describe("Redis unreachable", () => {
    let h!: Harness;
    useHarness({ REDIS_URL: "redis://127.0.0.1:1" }, (started) => (h = started));

    it("/health says degraded with 503 and why", async () => {
      const res = await fetch(`${h.sidecar.url}/health`);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { status: string; redis: { ok: boolean; error?: string }; opencode: { state: string } };
      expect(body).toMatchObject({ status: "degraded", redis: { ok: false }, opencode: { state: "running" } });
      expect(body.redis.error).toBeTruthy();
    });
  });
});
