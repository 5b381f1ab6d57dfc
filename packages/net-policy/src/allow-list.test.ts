import { describe, expect, it } from "vitest";
import { isAllowed, parseAllowList } from "./allow-list.js";

describe("parseAllowList", () => {
  it("splits on commas, trims, skips blanks and spells names as a URL would", () => {
    expect(parseAllowList(" MCP.Internal , 10.1.0.0/16,,::1/128, 192.168.1.20 ,fd00::1, bücher.example ")).toEqual([
      "mcp.internal",
      "10.1.0.0/16",
      "::1/128",
      "192.168.1.20",
      "fd00::1",
      "xn--bcher-kva.example",
    ]);
    expect(parseAllowList("")).toEqual([]);
    expect(parseAllowList(" , ")).toEqual([]);
  });

  it.each([
    "10.1.0.0/33",
    "::1/129",
    "10.1.0.0/",
    "10.1/16",
    "example.com/24",
    "*.corp",
    "mcp.internal:8080",
    "user@mcp.internal",
    "http://mcp.internal",
    "[::1]",
    "0x7f.1",
    "1.2.3",
    "two words",
  ])("throws naming the bad entry %s", (entry) => {
    expect(() => parseAllowList(`ok.example, ${entry}`)).toThrow(`"${entry}"`);
  });
});

describe("isAllowed", () => {
  const allow = ["mcp.internal", "10.1.0.0/16", "::1/128", "192.168.1.20"];

  it.each([
    ["mcp.internal", true],
    ["MCP.INTERNAL", true],
    ["api.mcp.internal", false],
    ["10.1.255.255", true],
    ["10.2.0.0", false],
    ["::ffff:10.1.0.1", true],
    ["::1", true],
    ["::2", false],
    ["192.168.1.20", true],
    ["192.168.1.21", false],
    ["127.0.0.1", false],
  ])("%s → %s", (host, expected) => {
    expect(isAllowed(host, allow)).toBe(expected);
  });

  it("allows nothing with an empty list", () => {
    expect(isAllowed("10.1.0.1", [])).toBe(false);
  });
});
