import { describe, expect, it } from "vitest";
import { covers, engineToolName, namesOfPermission } from "./match.js";

describe("approval matching", () => {
  it("matches MCP globs over provider/tool, and never an engine tool", () => {
    expect(covers(["everything/ech*"], { kind: "mcp", provider: "everything", tool: "echo" })).toBe(true);
    expect(covers(["every?hing/*"], { kind: "mcp", provider: "everything", tool: "add" })).toBe(true);
    expect(covers(["everything/ech*"], { kind: "mcp", provider: "everything", tool: "add" })).toBe(false);
    expect(covers(["notion/*"], { kind: "mcp", provider: "notion-2", tool: "x" })).toBe(false);
    expect(covers(["a.b/c"], { kind: "mcp", provider: "aXb", tool: "c" })).toBe(false);
    expect(covers(["bash"], { kind: "mcp", provider: "bash", tool: "bash" })).toBe(false);
  });

  it("matches engine tools by name, edit-like tools as edit, an unknown call by its permission", () => {
    expect(covers(["bash"], { kind: "engine", names: ["bash"] })).toBe(true);
    expect(covers(["write"], { kind: "engine", names: [engineToolName("apply_patch")!] })).toBe(false);
    expect(covers(["edit"], { kind: "engine", names: [engineToolName("multiedit")!] })).toBe(true);
    expect(covers(["write"], { kind: "engine", names: namesOfPermission("edit") })).toBe(true);
    expect(covers(["*/*"], { kind: "engine", names: ["bash"] })).toBe(false);
    expect(engineToolName("task")).toBeUndefined();
  });
});
