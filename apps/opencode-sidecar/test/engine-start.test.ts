import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "../src/engine/free-port.js";
import { EngineExitedDuringStartError, EngineSupervisor } from "../src/engine/supervisor.js";
import { createLogger } from "../src/logger.js";
import { processesIn } from "./processes.js";

/** The engine's port is free when picked, not always when the engine binds it: another process can take it first. */
describe("engine start on a port taken in between", () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  });

  async function takenPort(): Promise<number> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return (server.address() as net.AddressInfo).port;
  }

  function supervisor(pickPort: () => Promise<number>) {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "engine-start-"));
    const engine = new EngineSupervisor({ dataDir, config: {}, env: {}, startTimeoutMs: 90_000, logger: createLogger("silent"), pickPort });
    cleanups.push(async () => {
      await engine.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    return { engine, dataDir };
  }

  it("starts again on another port when the first was taken", async () => {
    const taken = await takenPort();
    const picked: number[] = [];
    const { engine } = supervisor(async () => {
      const port = picked.length === 0 ? taken : await freePort();
      picked.push(port);
      return port;
    });
    await engine.start();
    expect(picked).toHaveLength(2);
    expect(picked[1]).not.toBe(taken);
    expect(engine.state).toBe("running");
    expect(engine.endpoint()?.url).toContain(`:${picked[1]}`);
    const health = await fetch(`${engine.endpoint()!.url}/global/health`, {
      headers: { authorization: `Basic ${Buffer.from(`opencode:${engine.endpoint()!.password}`).toString("base64")}` },
    });
    expect(health.status).toBe(200);
  }, 120_000);

  it("gives up after three starts that all exit, leaving no engine process", async () => {
    const taken = await takenPort();
    let picks = 0;
    const { engine, dataDir } = supervisor(async () => {
      picks += 1;
      return taken;
    });
    await expect(engine.start()).rejects.toBeInstanceOf(EngineExitedDuringStartError);
    expect(picks).toBe(3);
    expect(processesIn(dataDir)).toEqual([]);
  }, 120_000);
});
