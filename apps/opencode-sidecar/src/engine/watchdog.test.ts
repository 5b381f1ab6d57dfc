import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { EngineWatchdog } from "./watchdog.js";

const log = pino({ level: "silent" });

describe("engine watchdog", () => {
  it("kills an engine whose probes never answer, once, with a reason naming ENGINE_UNRESPONSIVE_MS", async () => {
    const kills: string[] = [];
    const watchdog = new EngineWatchdog({
      unresponsiveMs: 200,
      probe: (signal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
      kill: (reason) => kills.push(reason),
      log,
    });
    watchdog.start();
    await sleep(700);
    watchdog.stop();
    expect(kills).toHaveLength(1);
    expect(kills[0]).toMatch(/ENGINE_UNRESPONSIVE_MS is 200/);
  });

  it("leaves alone an engine that answers, however slowly, within each probe's bound", async () => {
    const kills: string[] = [];
    let probes = 0;
    const watchdog = new EngineWatchdog({
      unresponsiveMs: 200,
      probe: async () => {
        probes += 1;
        await sleep(20);
      },
      kill: (reason) => kills.push(reason),
      log,
    });
    watchdog.start();
    await sleep(700);
    watchdog.stop();
    expect(probes).toBeGreaterThan(3);
    expect(kills).toEqual([]);
  });

  it("holds a stall of its own process (a paused container) not against the engine, and still kills a silent one after", async () => {
    const kills: string[] = [];
    const watchdog = new EngineWatchdog({ unresponsiveMs: 1_000, probe: () => new Promise(() => undefined), kill: (reason) => kills.push(reason), log });
    watchdog.start();
    // This process stalls for longer than the whole period: no tick runs meanwhile.
    const until = Date.now() + 2_500;
    while (Date.now() < until);
    await sleep(300);
    expect(kills).toEqual([]);
    await vi.waitFor(() => expect(kills).toHaveLength(1), { timeout: 10_000 });
    watchdog.stop();
  });
});
