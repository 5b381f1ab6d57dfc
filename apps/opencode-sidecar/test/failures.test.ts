import { describe, expect, it } from "vitest";
import type { EngineSupervisor } from "../src/engine/supervisor.js";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

/** The sidecar's `/health` once it says healthy again (a minute at most), after its engine restarted. */
async function healthyAgain(h: Harness): Promise<{ status: string; opencode: { restarts: number } }> {
  const health = async () => (await fetch(`${h.sidecar.url}/health`)).json() as Promise<{ status: string; opencode: { restarts: number } }>;
  const deadline = Date.now() + 60_000;
  while ((await health()).status !== "healthy" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  return health();
}

/** Acceptance 4: failures are answers, not hangs. */
describe("sidecar failure paths", () => {
  let h!: Harness;
  useHarness({}, (started) => (h = started));

  it("a model 400 is an error with the reason, reported once as session_error", async () => {
    h.model.script({ error: { status: 400, message: "context too long for this model" } });
    const res = await h.post("/delegate", delegateBody(h, "ses_400", "hi"));
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("error");
    expect(res.body.error.message).toContain("context too long for this model");
    await h.receiver.until(() => h.receiver.updates("ses_400").includes("failed"));
    const types = h.receiver.progress("ses_400").map((e) => e.type);
    expect(types.filter((t) => t === "session_error" || t === "completed")).toEqual(["session_error"]);
    expect(types.at(-1)).toBe("session_error");
  });

  it("a model that keeps failing with 500 ends in an error with the reason after the engine's retries", async () => {
    h.model.respond(() => ({ error: { status: 500, message: "upstream exploded", retryAfterSeconds: 0 } }));
    const res = await h.post("/delegate", delegateBody(h, "ses_500", "hi"));
    expect(res.body.status).toBe("error");
    expect(res.body.error.message).toContain("upstream exploded");
    expect(h.model.requests.length).toBeGreaterThan(1); // the engine retried before giving up
    await h.receiver.until(() => h.receiver.progress("ses_500").some((e) => e.type === "session_error"));
    expect(h.receiver.progress("ses_500").some((e) => e.type === "status" && e.data.status === "retry")).toBe(true);
  }, 120_000);

  it("abort stops the running turn and the waiting request answers aborted", async () => {
    h.model.script({ hang: true });
    const pending = h.post("/delegate", delegateBody(h, "ses_abort", "take forever"));
    await h.model.waitForRequests(1);
    const created = () => h.receiver.received.find((r) => r.path.includes("/ses_abort/update"));
    await h.receiver.until(() => created() !== undefined);
    const ocId = created()!.body.state.opencodeSessionId as string;
    const abort = await h.post(`/sessions/${ocId}/abort`);
    expect(abort).toMatchObject({ status: 200, body: { opencodeSessionId: ocId, aborted: true } });
    const res = await pending;
    expect(res.body).toMatchObject({ status: "aborted", metadata: { opencodeSessionId: ocId } });
    await h.receiver.until(() => h.receiver.updates("ses_abort").includes("aborted"));
    expect(h.receiver.progress("ses_abort").at(-1)).toMatchObject({ type: "completed", data: { status: "aborted" } });
    // Nothing runs now: a second abort has nothing to stop.
    expect((await h.post(`/sessions/${ocId}/abort`)).body.aborted).toBe(false);
  });

  it("two concurrent prompts to one session both complete, in order", async () => {
    h.model.script({ text: "first" });
    const created = await h.post("/delegate", delegateBody(h, "ses_serial", "start"));
    const ocId = created.body.metadata.opencodeSessionId as string;
    h.model.script({ text: "answer one", delayMs: 300 }, { text: "answer two" });
    const before = h.model.requests.length;
    const [one, two] = await Promise.all([
      h.post(`/sessions/${ocId}/prompt`, { prompt: "question one" }),
      // Sent once the first turn reached the model (a fixed delay reorders them on a busy machine).
      h.model.waitForRequests(before + 1, 60_000).then(() => h.post(`/sessions/${ocId}/prompt`, { prompt: "question two" })),
    ]);
    expect(one.body).toMatchObject({ status: "success", output: "answer one" });
    expect(two.body).toMatchObject({ status: "success", output: "answer two" });
    const last = JSON.stringify(h.model.requests.at(-1)!.messages);
    // The second turn saw the first one finished: they were not merged.
    expect(last.indexOf("question one")).toBeLessThan(last.indexOf("answer one"));
    expect(last.indexOf("answer one")).toBeLessThan(last.indexOf("question two"));
  });

  it("an unknown session is 404", async () => {
    const res = await h.post("/sessions/ses_doesnotexist123/prompt", { prompt: "hello?" });
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe("session_not_found");
    expect((await h.post("/sessions/ses_doesnotexist123/abort")).status).toBe(404);
  });

  it("the engine killed mid-run: the waiting request fails clearly, the engine restarts, later work succeeds", async () => {
    const engine = h.sidecar.engine as EngineSupervisor;
    const restartsBefore = engine.restarts;
    const crashesBefore = engine.crashes;
    h.model.script({ hang: true });
    const pending = h.post("/delegate", delegateBody(h, "ses_kill", "work"));
    await h.model.waitForRequests(1);
    process.kill(engine.pid!, "SIGKILL");
    const res = await pending;
    expect(res.body.status).toBe("error");
    expect(res.body.error).toMatchObject({ code: "engine_unavailable" });
    expect(res.body.error.message).toMatch(/engine exited/);

    expect((await healthyAgain(h)).opencode.restarts).toBe(restartsBefore + 1);
    expect(engine.crashes).toBe(crashesBefore + 1);
    expect(engine.unresponsive).toBe(0);

    h.model.reset();
    h.model.script({ text: "back in business" });
    const after = await h.post("/delegate", delegateBody(h, "ses_after", "again"));
    expect(after.body).toMatchObject({ status: "success", output: "back in business" });
  }, 120_000);
});

describe("an engine that stops answering", () => {
  let h!: Harness;
  // The default ENGINE_REQUEST_TIMEOUT_MS (15 s): with OhMyOpenCode on, the sidecar's own start asks
  // the engine for its agents, which took longer than 6 s on a loaded machine.
  useHarness({}, (started) => (h = started));

  it("is 503 engine_unavailable naming the timeout, not a 500, and serves again once it answers", async () => {
    const engine = h.sidecar.engine as EngineSupervisor;
    // Frozen, not dead: the process is there, its calls never answer.
    process.kill(engine.pid!, "SIGSTOP");
    let res;
    try {
      res = await h.post("/delegate", delegateBody(h, "ses_frozen", "hi"));
    } finally {
      process.kill(engine.pid!, "SIGCONT");
    }
    expect(res.status, JSON.stringify(res.body)).toBe(503);
    expect(res.body.error).toMatchObject({ code: "engine_unavailable", message: expect.stringContaining("ENGINE_REQUEST_TIMEOUT_MS") });

    h.model.script({ text: "thawed" });
    const after = await h.post("/delegate", delegateBody(h, "ses_thawed", "again"));
    expect(after.body).toMatchObject({ status: "success", output: "thawed" });
  }, 120_000);
});

describe("an engine that stays frozen", () => {
  let h!: Harness;
  // Long enough for OhMyOpenCode's load of a new folder, short enough for a test.
  useHarness({ ENGINE_UNRESPONSIVE_MS: "8000" }, (started) => (h = started));

  it("is killed and restarted by the watchdog: the run in progress fails naming ENGINE_UNRESPONSIVE_MS, the next one succeeds", async () => {
    const engine = h.sidecar.engine as EngineSupervisor;
    const frozen = engine.pid!;
    const restartsBefore = engine.restarts;
    const crashesBefore = engine.crashes;
    h.model.script({ hang: true });
    const pending = h.post("/delegate", delegateBody(h, "ses_wedged", "work"));
    // The harness's first turn: its folder's instance loads first, slowly on a loaded machine.
    await h.model.waitForRequests(1, 60_000);
    // Nobody sends SIGCONT: only the watchdog can end this.
    process.kill(frozen, "SIGSTOP");
    const res = await pending;
    expect(res.body.status, JSON.stringify(res.body)).toBe("error");
    expect(res.body.error).toMatchObject({ code: "engine_unavailable", message: expect.stringContaining("ENGINE_UNRESPONSIVE_MS") });

    expect((await healthyAgain(h)).opencode.restarts).toBe(restartsBefore + 1);
    expect(engine.pid).not.toBe(frozen);
    expect(engine.unresponsive).toBe(1);
    expect(engine.crashes).toBe(crashesBefore);
    expect(() => process.kill(frozen, 0)).toThrow(/ESRCH/);

    h.model.reset();
    h.model.script({ text: "unstuck" });
    const after = await h.post("/delegate", delegateBody(h, "ses_unstuck", "again"));
    expect(after.body).toMatchObject({ status: "success", output: "unstuck" });
  }, 120_000);
});
