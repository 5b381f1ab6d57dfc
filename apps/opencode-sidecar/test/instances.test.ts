import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import type { SidecarHealth } from "@nubabel/contracts";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

const LIMIT = 3;
// The issue asks for 200 (minutes here): TEST_INSTANCE_ORGS=200 runs that. The suite runs three times
// the bound, which loads and unloads instances all the same, at a third of the time 24 took.
const ORGANIZATIONS = Number(process.env.TEST_INSTANCE_ORGS ?? 9);

/** Issue 12, part 1: the engine's instances (one per organization's workspace) stay bounded. */
describe("engine instances (ENGINE_MAX_INSTANCES, real engine)", () => {
  let h!: Harness;
  useHarness({ ENGINE_MAX_INSTANCES: String(LIMIT) }, (started) => (h = started));

  const health = async () => (await fetch(`${h.sidecar.url}/health`).then((r) => r.json())) as SidecarHealth;

  it(`runs a turn for each of ${ORGANIZATIONS} organizations with at most ${LIMIT} instances loaded, and the first keeps its context`, async () => {
    const org = (i: number) => `org_many${String(i).padStart(4, "0")}`;
    h.model.respond((request) => ({ text: `answer ${request.id}` }));
    const first = await h.post("/delegate", delegateBody(h, "ses_first", "remember the word tangerine", { organizationId: org(0) }));
    expect(first.body.status).toBe("success");
    let most = (await health()).opencode.instances ?? 0;
    // Two at a time, as the machine allows.
    for (let i = 1; i < ORGANIZATIONS; i += 2) {
      const turns = await Promise.all(
        [i, i + 1].filter((n) => n < ORGANIZATIONS).map((n) => h.post("/delegate", delegateBody(h, `ses_${n}`, `hello from ${n}`, { organizationId: org(n) }))),
      );
      for (const turn of turns) expect(turn.body.status, JSON.stringify(turn.body)).toBe("success");
      most = Math.max(most, (await health()).opencode.instances ?? 0);
    }
    expect(most).toBeGreaterThan(0);
    expect(most).toBeLessThanOrEqual(LIMIT);

    // Its instance was unloaded long ago; the session, and what was said in it, were not.
    h.model.respond(undefined);
    h.model.script({ text: "tangerine" });
    const again = await h.post(`/sessions/${first.body.metadata.opencodeSessionId}/prompt`, { prompt: "which word?", organizationId: org(0) });
    expect(again.body.status).toBe("success");
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toContain("remember the word tangerine");
    expect((await health()).opencode.instances).toBeLessThanOrEqual(LIMIT);
  }, 600_000);
});

/** Issue 12, part 1: an idle engine over ENGINE_MAX_RSS_MB is restarted, and no run notices. */
describe("engine recycling (ENGINE_MAX_RSS_MB, real engine)", () => {
  let h!: Harness;
  // Sweeps every second; the memory bound is set once the engine's starting size is known.
  useHarness({ ENGINE_INSTANCE_IDLE_MS: "2000" }, (started) => (h = started));
  const health = async () => (await fetch(`${h.sidecar.url}/health`).then((r) => r.json())) as SidecarHealth;

  it("restarts an idle engine over its bound between turns; every turn succeeds and context survives", async () => {
    const start = (await health()).opencode.rssBytes!;
    expect(start).toBeGreaterThan(0);
    await h.restart(h.env({ ENGINE_INSTANCE_IDLE_MS: "2000", ENGINE_MAX_RSS_MB: String(Math.ceil(start / 1048576) + 10) }));
    h.model.script({ text: "noted" });
    const first = await h.post("/delegate", delegateBody(h, "ses_recycle", "remember the word persimmon", { organizationId: "org_recycle0" }));
    expect(first.body.status).toBe("success");
    // Turns arrive while the engine may be restarting: each waits, none fails.
    for (let i = 1; i <= 8; i++) {
      h.model.script({ text: `turn ${i}` });
      const turn = await h.post("/delegate", delegateBody(h, `ses_recycle_${i}`, `turn ${i}`, { organizationId: `org_recycle${i % 3}` }));
      expect(turn.body.status, JSON.stringify(turn.body)).toBe("success");
      await sleep(400);
    }
    await vi.waitFor(async () => expect((await health()).opencode.recycles).toBeGreaterThan(0), { timeout: 20_000, interval: 250 });
    expect((await health()).opencode.restarts).toBe(0);
    h.model.script({ text: "persimmon" });
    const again = await h.post(`/sessions/${first.body.metadata.opencodeSessionId}/prompt`, { prompt: "which word?", organizationId: "org_recycle0" });
    expect(again.body.status, JSON.stringify(again.body)).toBe("success");
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toContain("remember the word persimmon");
  }, 300_000);
});
