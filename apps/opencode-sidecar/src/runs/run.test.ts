import { describe, expect, it } from "vitest";
import { RunResult, SidecarRun } from "@nubabel/contracts";
import { create, InvalidTransitionError, toResponse, toResult, toSidecarRun, transition } from "./run.js";

const fresh = () => create({ runId: "run_abc", opencodeSessionId: "ses_x", nubabelSessionId: "thread-1", organizationId: "org_a" }, new Date("2025-01-01T00:00:00Z"));

describe("Run state machine", () => {
  it("goes queued → running → completed, timing the run from its start", () => {
    const running = transition(fresh(), { type: "start" }, new Date("2025-01-01T00:00:01Z"));
    expect(running).toMatchObject({ status: "running", startedAt: "2025-01-01T00:00:01.000Z" });
    const done = transition(running, { type: "complete", output: "hi", model: "p/m" }, new Date("2025-01-01T00:00:03Z"));
    expect(done).toMatchObject({ status: "completed", output: "hi", durationMs: 2_000, finishedAt: "2025-01-01T00:00:03.000Z" });
    expect(SidecarRun.parse(toSidecarRun(done))).toMatchObject({ status: "completed" });
    expect(RunResult.parse(toResult(done))).toMatchObject({ status: "completed", output: "hi", durationMs: 2_000 });
    expect(toResponse(done, "x")).toMatchObject({ status: "success", metadata: { runId: "run_abc", model: "p/m" } });
  });

  it("a queued run may be aborted or failed without running, never completed", () => {
    const error = { code: "shutting_down", message: "the sidecar is shutting down" };
    expect(transition(fresh(), { type: "abort", output: "", error }).status).toBe("aborted");
    expect(transition(fresh(), { type: "fail", output: "", error }).status).toBe("failed");
    expect(() => transition(fresh(), { type: "complete", output: "" })).toThrow(InvalidTransitionError);
  });

  it("a finished run moves no more, and only a finished run has a result", () => {
    const done = transition(transition(fresh(), { type: "start" }), { type: "complete", output: "" });
    for (const event of [{ type: "start" }, { type: "complete", output: "" }, { type: "abort", output: "", error: { code: "a", message: "b" } }] as const) {
      expect(() => transition(done, event)).toThrow(/cannot/);
    }
    expect(() => toResult(fresh())).toThrow(InvalidTransitionError);
  });
});
