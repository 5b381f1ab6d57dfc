import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
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
    await sleep(300);
    await periodic.stop();
    expect(most).toBe(1);
    // About one pass per 60 ms, never one per 10 ms tick.
    expect(passes).toBeGreaterThan(1);
    expect(passes).toBeLessThan(8);
  });

  it("hands a failed pass to onError and goes on", async () => {
    const errors: string[] = [];
    let passes = 0;
    const periodic = every({ everyMs: 10, onError: (err) => errors.push(err.message) }, async () => {
      passes++;
      throw new Error(`pass ${passes}`);
    });
    await sleep(100);
    await periodic.stop();
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors[0]).toBe("pass 1");
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
