import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import type { RunStore } from "../runs/run-store.js";
import { create, transition } from "../runs/run.js";
import { MemoryRunStore } from "./memory/run-store.js";
import { RedisRunStore } from "./redis/run-store.js";
import { redisUrl } from "../../test/infra.js";

const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
afterAll(() => redis.disconnect());

/** One contract for both adapters of the port. */
describe.each([
  ["memory", () => new MemoryRunStore()],
  ["redis", () => new RedisRunStore(redis, `sidecar-test:${randomUUID()}:`)],
] as const)("RunStore (%s)", (_name, make: () => RunStore) => {
  const run = () => create({ runId: `run_${randomUUID().replaceAll("-", "")}`, opencodeSessionId: "ses_x", nubabelSessionId: "s", organizationId: "org_a" });

  it("creates a run once, reads it back, and keeps the latest save", async () => {
    const store = make();
    const queued = run();
    expect(await store.get(queued.runId)).toBeUndefined();
    expect(await store.create(queued)).toBe(true);
    expect(await store.create({ ...queued, nubabelSessionId: "other" })).toBe(false);
    expect(await store.get(queued.runId)).toEqual(queued);
    const running = transition(queued, { type: "start" });
    await store.save(running);
    expect(await store.get(queued.runId)).toEqual(running);
  });

  it("keeps a run's approval requirements through its moves", async () => {
    const store = make();
    const queued = { ...run(), approvals: { match: ["bash", "notion/*"], timeoutMs: 60_000 } };
    await store.create(queued);
    await store.save(transition(queued, { type: "start" }));
    expect((await store.get(queued.runId))?.approvals).toEqual(queued.approvals);
  });
});

describe("RedisRunStore without Redis", () => {
  it("says the store is unavailable", async () => {
    const down = new Redis("redis://127.0.0.1:1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    down.on("error", () => undefined); // expected: nothing listens there
    const store = new RedisRunStore(down, "x:");
    await expect(store.get("run_x")).rejects.toMatchObject({ name: "StoreUnavailableError" });
    down.disconnect();
  });
});

describe("MemoryRunStore at its cap", () => {
  it("forgets the least recently saved run, even one read since", async () => {
    const store = new MemoryRunStore();
    const make = (i: number) => create({ runId: `run_${i}`, opencodeSessionId: "ses_x", nubabelSessionId: "s", organizationId: "org_a" });
    for (let i = 0; i < 10_000; i++) await store.create(make(i));
    expect(await store.get("run_0")).toBeDefined();
    await store.save(transition(make(1), { type: "start" }));
    await store.create(make(10_000));
    expect(await store.get("run_0")).toBeUndefined();
    expect(await store.get("run_1")).toMatchObject({ status: "running" });
    expect(await store.get("run_2")).toBeDefined();
    expect(await store.get("run_10000")).toBeDefined();
  });
});
