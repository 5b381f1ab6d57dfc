import { describe, expect, it } from "vitest";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

/** Every wait is bounded: a turn past RUN_TIMEOUT_MS is stopped; a session's waiting line is bounded. */
describe("sidecar limits", () => {
  let h!: Harness;
  // Long enough for an organization's folder to start cold on a loaded machine (8-25 s measured):
  // the engine (1.18.33) answers an abort during that start by failing the folder's next prompt
  // too ("All fibers interrupted without error"), which is not what these tests are about.
  useHarness({ RUN_TIMEOUT_MS: "30000", SESSION_QUEUE_LIMIT: "1" }, (started) => (h = started));

  it("stops a turn that outlives RUN_TIMEOUT_MS and answers with a timeout error", async () => {
    h.model.script({ text: "warm" });
    expect((await h.post("/delegate", delegateBody(h, "ses_warm", "hi"))).body.status).toBe("success");
    h.model.script({ hang: true });
    const res = await h.post("/delegate", delegateBody(h, "ses_slow", "never ends"));
    expect(res.body).toMatchObject({ status: "error", error: { code: "timeout" } });
    expect(res.body.error.message).toMatch(/30000 ms/);
    expect(h.model.requests).toHaveLength(2); // the hanging turn had reached the model
    await h.receiver.until(() => h.receiver.updates("ses_slow").includes("failed"));
    expect(h.receiver.progress("ses_slow").at(-1)).toMatchObject({ type: "session_error", data: { error: { code: "timeout" } } });
  }, 120_000);

  it("answers 429 when more prompts wait for one session than allowed, and still runs the others", async () => {
    h.model.reset();
    h.model.script({ text: "created" });
    const created = await h.post("/delegate", delegateBody(h, "ses_busy", "start"));
    const ocId = created.body.metadata.opencodeSessionId as string;
    h.model.script({ text: "one", delayMs: 1_000 }, { text: "later" });
    const first = h.post(`/sessions/${ocId}/prompt`, { prompt: "1" });
    await h.model.waitForRequests(2); // the first follow-up is running
    // One more may wait; of two sent together, exactly one is refused.
    const [a, b] = await Promise.all([h.post(`/sessions/${ocId}/prompt`, { prompt: "2" }), h.post(`/sessions/${ocId}/prompt`, { prompt: "3" })]);
    const refused = [a, b].filter((r) => r.status === 429);
    const served = [a, b].filter((r) => r.status === 200);
    expect(refused).toHaveLength(1);
    expect(refused[0]!.body.error.code).toBe("queue_full");
    expect(served[0]!.body.output).toBe("later");
    expect((await first).body.output).toBe("one");
  });
});
