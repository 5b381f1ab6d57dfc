import { describe, expect, it } from "vitest";
import { MemoryReplayGuard } from "./replay-guard.js";

describe("MemoryReplayGuard", () => {
  it("keeps refusing a replay however many other messages were claimed since", async () => {
    const guard = new MemoryReplayGuard();
    expect(await guard.claim("captured", 60)).toBe(true);
    // Past any count at which a size-bounded cache would have evicted the first key.
    for (let i = 0; i < 30_000; i++) await guard.claim(`other:${i}`, 60);
    expect(await guard.claim("captured", 60)).toBe(false);
  });

  it("lets a key through again once its ttl is over, and only then", async () => {
    const guard = new MemoryReplayGuard();
    expect(await guard.claim("short", 1)).toBe(true);
    expect(await guard.claim("long", 60)).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await guard.claim("short", 1)).toBe(true);
    expect(await guard.claim("short", 1)).toBe(false);
    expect(await guard.claim("long", 60)).toBe(false);
  });
});
