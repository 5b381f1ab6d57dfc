import { describe, expect, it } from "vitest";
import { within } from "./waits.js";

describe("Waits.within", () => {
  it("is true for work that settles in time, a rejection included, and false when the time runs out", async () => {
    expect(await within(Promise.resolve(1), 1_000)).toBe(true);
    expect(await within(Promise.reject(new Error("no")), 1_000)).toBe(true);
    expect(await within(new Promise(() => undefined), 50)).toBe(false);
  });
});
