import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { SidecarHealth } from "@nubabel/contracts";
import { SidecarPool } from "./pool.js";

const A = "http://a:3001";
const B = "http://b:3001";

function healthy(runs: number, capacity = 10, extra: Partial<SidecarHealth> = {}): SidecarHealth {
  return {
    status: "healthy",
    opencode: { enabled: true, state: "running", version: "1", model: "m", restarts: 0 },
    load: { runs, capacity },
    ...extra,
  };
}

/** A pool over sidecars whose health answers come from `answers` (an Error: no answer). */
function poolOf(answers: Record<string, SidecarHealth | Error>, timeoutMs = 60_000, slowTimeoutMs?: number) {
  const gone: string[] = [];
  const pool = new SidecarPool({
    urls: Object.keys(answers),
    heartbeatMs: 1_000,
    timeoutMs,
    ...(slowTimeoutMs ? { slowTimeoutMs } : {}),
    health: async (url) => {
      const answer = answers[url]!;
      if (answer instanceof Error) throw answer;
      return answer;
    },
    logger: pino({ level: "silent" }),
  });
  pool.onGone((url) => gone.push(url));
  return { pool, answers, gone };
}

describe("SidecarPool", () => {
  it("places on the least loaded for its capacity, and equal loads take turns", async () => {
    const { pool } = poolOf({ [A]: healthy(5, 10), [B]: healthy(2, 10) });
    await pool.heartbeat();
    expect(pool.place()).toBe(B);
    const { pool: even } = poolOf({ [A]: healthy(0), [B]: healthy(0) });
    await even.heartbeat();
    const placed = [even.place(), even.place(), even.place(), even.place()];
    expect(placed.filter((u) => u === A)).toHaveLength(2);
    expect(placed.filter((u) => u === B)).toHaveLength(2);
  });

  it("prefers the organization's sidecar unless it is full or not ready", async () => {
    const { pool, answers } = poolOf({ [A]: healthy(9, 10), [B]: healthy(0, 10) });
    await pool.heartbeat();
    expect(pool.place(A)).toBe(A);
    // A's one free place is taken now (placed since the heartbeat count): the next goes to B.
    expect(pool.place(A)).toBe(B);
    answers[A] = healthy(0, 10, { draining: true });
    await pool.heartbeat();
    expect(pool.place(A)).toBe(B);
    expect(pool.snapshot().find((m) => m.url === A)).toMatchObject({ state: "unready", draining: true, problem: "draining" });
  });

  it("takes a refusing sidecar out of placement at once, calls it gone after the timeout, once, and back when it answers", async () => {
    const { pool, answers, gone } = poolOf({ [A]: healthy(0), [B]: healthy(5) }, 50, 60_000);
    await pool.heartbeat();
    answers[A] = refused();
    await pool.heartbeat();
    expect(pool.snapshot()[0]).toMatchObject({ state: "unready" });
    expect(pool.place()).toBe(B);
    expect(pool.isGone(A)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 60));
    await pool.heartbeat();
    await pool.heartbeat();
    expect(pool.isGone(A)).toBe(true);
    expect(gone).toEqual([A]);
    answers[A] = healthy(0);
    await pool.heartbeat();
    expect(pool.isGone(A)).toBe(false);
    expect(pool.hasOtherReady(B)).toBe(true);
  });

  it("waits the longer slow timeout before calling a sidecar that only times out gone (slow under load is not dead)", async () => {
    const { pool, answers, gone } = poolOf({ [A]: healthy(0), [B]: healthy(0) }, 20, 150);
    await pool.heartbeat();
    answers[A] = new Error("the sidecar did not answer within 2000 ms");
    await new Promise((resolve) => setTimeout(resolve, 40));
    await pool.heartbeat();
    expect([pool.isGone(A), pool.place(undefined, new Set([B]))]).toEqual([false, A]);
    expect(pool.snapshot()[0]).toMatchObject({ state: "unready" });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await pool.heartbeat();
    expect(pool.isGone(A)).toBe(true);
    expect(gone).toEqual([A]);
  });

  it("still names a sidecar when none is ready (its own error then reaches the caller), and none when all are excluded", async () => {
    const { pool } = poolOf({ [A]: new Error("down"), [B]: healthy(0, 10, { status: "degraded" }) });
    expect(pool.place()).toBe(A); // not asked yet: the first
    await pool.heartbeat();
    expect(pool.place()).toBe(B); // answers, though degraded, before one that does not
    expect(pool.place(undefined, new Set([A, B]))).toBeUndefined();
  });

  it("knows a URL with a trailing slash as the same sidecar, and one outside the pool as not its own (not gone)", async () => {
    const { pool } = poolOf({ [A]: healthy(0) });
    await pool.heartbeat();
    expect([pool.knows("http://elsewhere:3001"), pool.isGone("http://elsewhere:3001")]).toEqual([false, false]);
    expect([pool.knows(`${A}/`), pool.isGone(`${A}/`)]).toEqual([true, false]);
    expect(pool.place(undefined, new Set([`${A}/`]))).toBeUndefined();
  });
});

/** What undici throws when nothing listens. */
function refused(): Error {
  return Object.assign(new Error("fetch failed"), { cause: { code: "ECONNREFUSED" } });
}
