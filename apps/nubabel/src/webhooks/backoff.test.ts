import { describe, expect, it } from "vitest";
import { MAX_DELAY_MS, retryDelay } from "./backoff.js";

describe("retryDelay", () => {
  it("doubles from the base, with jitter within the upper half", () => {
    expect(retryDelay(1, 1000, () => 0)).toBe(500);
    expect(retryDelay(1, 1000, () => 1)).toBe(1000);
    expect(retryDelay(3, 1000, () => 1)).toBe(4000);
    expect(retryDelay(3, 1000, () => 0.5)).toBe(3000);
  });

  it("never waits past an hour, however many attempts", () => {
    expect(retryDelay(60, 5000, () => 1)).toBe(MAX_DELAY_MS);
  });
});
