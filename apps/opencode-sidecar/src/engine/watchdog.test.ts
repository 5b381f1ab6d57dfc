import { setTimeout as sleep } from "node:timers/promises";
import { pino } from "pino";
import { describe, expect, it, vi } from "vitest";
import { EngineWatchdog } from "./watchdog.js";

/** A watchdog over `probe`, started, and the reasons it killed for. */
function watching(unresponsiveMs: number, probe: (signal: AbortSignal) => Promise<unknown>) {
  const kills: string[] = [];
  const watchdog = new EngineWatchdog({ unresponsiveMs, probe, kill: (reason) => kills.push(reason), log: pino({ level: "silent" }) });
  watchdog.start();
  return { watchdog, kills };
}

/** An engine that never answers: the probe ends only when its bound does. */
const silent = (signal: AbortSignal) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason)));

describe("engine watchdog", () => {
  it("kills an engine whose probes never answer, once, with a reason naming ENGINE_UNRESPONSIVE_MS", async () => {
    const { watchdog, kills } = watching(200, silent);
    await sleep(700);
    watchdog.stop();
    expect(kills).toHaveLength(1);
    expect(kills[0]).toMatch(/ENGINE_UNRESPONSIVE_MS is 200/);
  });

  it("leaves alone an engine that answers, however slowly, within the period", async () => {
    let probes = 0;
    const { watchdog, kills } = watching(200, async () => {
      probes += 1;
      await sleep(20);
    });
    await sleep(700);
    watchdog.stop();
    expect(probes).toBeGreaterThan(3);
    expect(kills).toEqual([]);
  });

  it("holds a stall of its own process (a paused container) not against the engine, and still kills a silent one after", async () => {
    const { watchdog, kills } = watching(1_000, silent);
    // This process stalls for longer than the whole period: no tick runs meanwhile.
    const until = Date.now() + 2_500;
    while (Date.now() < until);
    await sleep(300);
    expect(kills).toEqual([]);
    await vi.waitFor(() => expect(kills).toHaveLength(1), { timeout: 10_000 });
    watchdog.stop();
  });
});
