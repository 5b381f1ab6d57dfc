import { EventEmitter } from "node:events";
import { createServer } from "node:net";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { EngineDriver } from "./driver.js";
import { type Engine, EngineDownError, type EngineEndpoint, EngineTimeoutError } from "./engine.js";

/** An engine said to be up at `url`, for the driver's error mapping. */
function engineAt(url: string): Engine {
  const endpoint: EngineEndpoint = { url };
  return Object.assign(new EventEmitter(), {
    state: "running" as const,
    version: "test",
    restarts: 0,
    endpoint: () => endpoint,
    start: async () => undefined,
    stop: async () => undefined,
  });
}

/** A port nothing listens on: taken, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("engine driver errors", () => {
  it("an engine that refuses the connection is EngineDownError naming the code (a 503, not a 500)", async () => {
    const driver = new EngineDriver(engineAt(`http://127.0.0.1:${await closedPort()}`), pino({ level: "silent" }), 5_000);
    driver.init();
    try {
      const err = await driver.createSession({ directory: "/tmp", title: "t", metadata: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineDownError);
      expect(err).not.toBeInstanceOf(EngineTimeoutError);
      expect((err as Error).message).toMatch(/could not be reached \(ECONNREFUSED\)/);
    } finally {
      driver.close();
    }
  });

  it("an engine that accepts and never answers is EngineTimeoutError naming ENGINE_REQUEST_TIMEOUT_MS", async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const driver = new EngineDriver(engineAt(`http://127.0.0.1:${port}`), pino({ level: "silent" }), 300);
    driver.init();
    try {
      const err = await driver.createSession({ directory: "/tmp", title: "t", metadata: {} }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(EngineTimeoutError);
      expect((err as Error).message).toMatch(/within 300 ms \(ENGINE_REQUEST_TIMEOUT_MS\)/);
    } finally {
      driver.close();
      silent.close();
    }
  });
});
