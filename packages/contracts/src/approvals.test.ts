import { describe, expect, it } from "vitest";
import { toolGlob } from "./approvals.js";

describe("toolGlob", () => {
  it.each([
    // Whole names, `*` and `?` only.
    ["*create*", "notion-create-page", true],
    ["create_?", "create_a", true],
    ["create_?", "create_ab", false],
    ["echo", "echo2", false],
    // Any case; every other character literal.
    ["Notion", "notion", true],
    ["work notion", "WORK NOTION", true],
    ["a-b", "a-b", true],
    ["a.b", "axb", false],
    ["a+b", "aab", false],
    ["(x)|y", "y", false],
  ])("%s on %s: %s", (pattern, name, matches) => {
    expect(toolGlob(pattern).test(name)).toBe(matches);
  });
});
