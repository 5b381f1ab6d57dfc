import { describe, expect, it } from "vitest";
import { WebhookEvent, type ApiRun } from "@nubabel/contracts";
import { createLogger } from "../log/logger.js";
import type { Run } from "../runs/index.js";
import { WebhookOutbox } from "./outbox.js";
import type { NewEvent, WebhookStore } from "./ports.js";

const run = { id: "run_abc", organizationId: "org_a", sessionId: "s1", status: "running", createdAt: new Date("2026-11-29T10:00:00Z") } as Run;

function outboxWith(listening: boolean, fail = false, cacheMs = 0) {
  const recorded: NewEvent[] = [];
  let woken = 0;
  const state = { listening, reads: 0 };
  const store = {
    listened: async () => (state.reads++, state.listening ? ["run.queued", "run.completed", "approval.requested", "approval.resolved"] : []),
    enqueue: async (event: NewEvent) => {
      if (fail) throw new Error("database down");
      recorded.push(event);
      return 1;
    },
  } as unknown as WebhookStore;
  const view = async (r: Run): Promise<ApiRun> => ({
    id: r.id,
    sessionId: r.sessionId,
    status: "waiting_approval",
    createdAt: r.createdAt.toISOString(),
    approvals: [],
  });
  const outbox = new WebhookOutbox({
    store,
    view,
    run: async (organizationId, runId) => (organizationId === run.organizationId && runId === run.id ? run : undefined),
    retryForMs: 1_000,
    wake: () => void woken++,
    cacheMs,
    log: createLogger("silent"),
  });
  return { outbox, recorded, woken: () => woken, state };
}

describe("WebhookOutbox", () => {
  it("turns approval notices into approval.requested / approval.resolved with the run's view, one per approval", async () => {
    const { outbox, recorded, woken } = outboxWith(true);
    await outbox.approval({ type: "requested", approval: { id: "apr_1", organizationId: "org_a", runId: "run_abc" } });
    await outbox.approval({ type: "resolved", approval: { id: "apr_1", organizationId: "org_a", runId: "run_abc" } });
    expect(recorded.map((e) => [e.type, e.runId, e.eventKey])).toEqual([
      ["approval.requested", "run_abc", "apr_1"],
      ["approval.resolved", "run_abc", "apr_1"],
    ]);
    const body = WebhookEvent.parse(JSON.parse(recorded[0]!.payload));
    expect(body.data).toMatchObject({ id: "run_abc", status: "waiting_approval" });
    expect(woken()).toBe(2);
  });

  it("records nothing (and builds no view) when no endpoint listens, and never throws", async () => {
    const quiet = outboxWith(false);
    await quiet.outbox.record("run.queued", run);
    expect(quiet.recorded).toEqual([]);
    const broken = outboxWith(true, true);
    await expect(broken.outbox.record("run.completed", run)).resolves.toBeUndefined();
    await expect(broken.outbox.approval({ type: "requested", approval: { id: "apr_2", organizationId: "org_a", runId: "run_gone" } })).resolves.toBeUndefined();
  });

  it("reads an organization's endpoints once per cacheMs, and at once after they changed here", async () => {
    const { outbox, recorded, state } = outboxWith(false, false, 60_000);
    await outbox.record("run.queued", run);
    await outbox.record("run.completed", run);
    expect(state.reads).toBe(1);
    state.listening = true;
    outbox.changed(run.organizationId);
    await outbox.record("run.completed", run);
    expect(recorded.map((e) => e.type)).toEqual(["run.completed"]);
    expect(state.reads).toBe(2);
  });
});
