import { describe, expect, it } from "vitest";
import { toolGlob } from "./approvals.js";

describe("toolGlob", () => {
  it("matches whole names, * and ? only", () => {
    expect(toolGlob("*create*").test("notion-create-page")).toBe(true);
    expect(toolGlob("create_?").test("create_a")).toBe(true);
    expect(toolGlob("create_?").test("create_ab")).toBe(false);
    expect(toolGlob("a.b").test("axb")).toBe(false);
    expect(toolGlob("echo").test("echo2")).toBe(false);
  });

  it("ignores case and treats every other character literally", () => {
    expect(toolGlob("Notion").test("notion")).toBe(true);
    expect(toolGlob("work notion").test("WORK NOTION")).toBe(true);
    expect(toolGlob("a-b").test("a-b")).toBe(true);
    expect(toolGlob("a+b").test("aab")).toBe(false);
    expect(toolGlob("(x)|y").test("y")).toBe(false);
  });
});
