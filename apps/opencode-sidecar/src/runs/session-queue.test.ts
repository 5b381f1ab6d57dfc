import { describe, expect, it } from "vitest";
import { QueueFullError } from "./errors.js";
import { SessionQueue } from "./session-queue.js";

const gate = () => {
  let open!: () => void;
  const p = new Promise<void>((r) => (open = r));
  return { p, open };
};

describe("SessionQueue", () => {
  it("runs one session's tasks in order and other sessions alongside", async () => {
    const q = new SessionQueue(5);
    const log: string[] = [];
    const g = gate();
    const a1 = q.run("a", async () => {
      await g.p;
      log.push("a1");
    });
    const a2 = q.run("a", async () => void log.push("a2"));
    await q.run("b", async () => void log.push("b1"));
    expect(log).toEqual(["b1"]);
    g.open();
    await Promise.all([a1, a2]);
    expect(log).toEqual(["b1", "a1", "a2"]);
  });

  it("bounds the waiting line and keeps going after a failure", async () => {
    const q = new SessionQueue(1);
    const g = gate();
    const first = q.run("s", () => g.p.then(() => Promise.reject(new Error("boom"))));
    const second = q.run("s", async () => "ok");
    expect(() => q.run("s", async () => "late")).toThrow(QueueFullError);
    g.open();
    await expect(first).rejects.toThrow("boom");
    await expect(second).resolves.toBe("ok");
  });

  it("aborts only the running task", async () => {
    const q = new SessionQueue(2);
    expect(q.abort("s")).toBe(false);
    const running = q.run("s", (signal) => new Promise((resolve) => signal.addEventListener("abort", () => resolve("stopped"))));
    await new Promise((r) => setImmediate(r));
    expect(q.abort("s")).toBe(true);
    await expect(running).resolves.toBe("stopped");
  });
});
