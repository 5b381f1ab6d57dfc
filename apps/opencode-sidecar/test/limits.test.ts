import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { delegateBody, type Harness, startHarness } from "./fixtures.js";

/** Every wait is bounded: a turn past RUN_TIMEOUT_MS is stopped; a session's waiting line is bounded. */
describe("sidecar limits", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ RUN_TIMEOUT_MS: "1500", SESSION_QUEUE_LIMIT: "1" });
  });
  afterAll(() => h?.close());

  it("stops a turn that outlives RUN_TIMEOUT_MS and answers with a timeout error", async () => {
    h.model.script({ hang: true });
    const res = await h.post("/delegate", delegateBody(h, "ses_slow", "never ends"));
    expect(res.body).toMatchObject({ status: "error", error: { code: "timeout" } });
    expect(res.body.error.message).toMatch(/1500 ms/);
    await h.receiver.until(() => h.receiver.updates("ses_slow").includes("failed"));
    expect(h.receiver.progress("ses_slow").at(-1)).toMatchObject({ type: "session_error", data: { error: { code: "timeout" } } });
  });

  it("answers 429 when more prompts wait for one session than allowed, and still runs the others", async () => {
    h.model.reset();
    h.model.script({ text: "created" });
    const created = await h.post("/delegate", delegateBody(h, "ses_busy", "start"));
    const ocId = created.body.metadata.opencodeSessionId as string;
    h.model.script({ text: "one", delayMs: 500 }, { text: "two" });
    const first = h.post(`/sessions/${ocId}/prompt`, { prompt: "1" });
    await h.model.waitForRequests(2);
    const second = h.post(`/sessions/${ocId}/prompt`, { prompt: "2" });
    await new Promise((r) => setTimeout(r, 50));
    const third = await h.post(`/sessions/${ocId}/prompt`, { prompt: "3" });
    expect(third.status).toBe(429);
    expect(third.body.error.code).toBe("queue_full");
    expect((await first).body.output).toBe("one");
    expect((await second).body.output).toBe("two");
  });
});
