import { describe, expect, it } from "vitest";
import { redactArguments } from "./redact.js";

describe("redactArguments", () => {
  it("hides values under secret-looking keys, at any depth and in any case", () => {
    const args = { command: "curl x", headers: { Authorization: "Bearer abc", "X-Api-Key": "k" }, list: [{ password: "p", name: "n" }], apiToken: "t", Cookie: "c" };
    expect(redactArguments(args)).toEqual({
      command: "curl x",
      headers: { Authorization: "[redacted]", "X-Api-Key": "[redacted]" },
      list: [{ password: "[redacted]", name: "n" }],
      apiToken: "[redacted]",
      Cookie: "[redacted]",
    });
  });

  it("cuts long strings and bounds nesting and size", () => {
    const out = redactArguments({ text: "x".repeat(2_000), deep: { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }, many: Array.from({ length: 80 }, (_, i) => i) });
    expect((out.text as string).length).toBeLessThan(600);
    expect(JSON.stringify(out.deep)).toContain("[nested too deep]");
    expect((out.many as unknown[]).length).toBe(51);
  });

  it("wraps what is not an object", () => {
    expect(redactArguments("plain")).toEqual({ value: "plain" });
  });
});
