import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it, vi } from "vitest";
import { every } from "./periodic.js";

describe("Periodic.every", () => {
  it("runs one pass at a time, skipping ticks while one runs, and starts at once when asked", async () => {
    let passes = 0;
    let concurrent = 0;
    let most = 0;
    const periodic = every({ everyMs: 10, firstAfterMs: 0 }, async () => {
      passes++;
      most = Math.max(most, ++concurrent);
      await sleep(60);
      concurrent--;
    });
    // Started synchronously.
    expect(passes).toBe(1);
    // Many 10 ms ticks fell within each 60 ms pass: none started a second one beside it.
    await vi.waitFor(() => expect(passes).toBeGreaterThanOrEqual(3), { timeout: 10_000, interval: 20 });
    await periodic.stop();
    expect(most).toBe(1);
  });

  it("hands a failed pass to onError and goes on", async () => {
    const errors: string[] = [];
    let passes = 0;
    const periodic = every({ everyMs: 10, onError: (err) => errors.push(err.message) }, async () => {
      passes++;
      throw new Error(`pass ${passes}`);
    });
    await vi.waitFor(() => expect(errors.length).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
    await periodic.stop();
    expect(errors.slice(0, 2)).toEqual(["pass 1", "pass 2"]);
  });

  it("goes on when onError itself throws, without an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    let reports = 0;
    const periodic = every(
      {
        everyMs: 10,
        onError: () => {
          reports++;
          throw new Error("the reporter failed");
        },
      },
      async () => {
        throw new Error("the pass failed");
      },
    );
    try {
      await vi.waitFor(() => expect(reports).toBeGreaterThanOrEqual(2), { timeout: 10_000, interval: 20 });
      await periodic.stop();
      // Unhandled rejections are reported after a turn of the event loop.
      await sleep(20);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });

  it("treats a pass that throws at once, before returning a promise, as a failed pass", async () => {
    const errors: string[] = [];
    const periodic = every({ everyMs: 10_000, firstAfterMs: 0, onError: (err) => errors.push(err.message) }, () => {
      throw new Error("thrown at once");
    });
    await vi.waitFor(() => expect(errors).toEqual(["thrown at once"]), { timeout: 5_000, interval: 10 });
    await periodic.stop();
  });

  it("waits on stop for the pass in flight, but no longer than asked, and runs nothing after", async () => {
    let finished = false;
    let passes = 0;
    const slow = every({ everyMs: 10, firstAfterMs: 0 }, async () => {
      passes++;
      await sleep(50);
      finished = true;
    });
    await slow.stop(1_000);
    expect(finished).toBe(true);
    await sleep(50);
    expect(passes).toBe(1);

    const stuck = every({ everyMs: 10, firstAfterMs: 0 }, () => new Promise(() => undefined));
    const started = Date.now();
    await stuck.stop(50);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
