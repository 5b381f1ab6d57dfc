import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SHIPPED_SKILLS } from "../main.js";
import { Catalog, UnknownSelectionError } from "./catalog.js";

describe("Catalog", () => {
  const catalog = Catalog.load({ shippedSkillsDir: SHIPPED_SKILLS });

  it("has OhMyOpenCode's category names and ships mcp-integration", () => {
    expect([...catalog.categories.keys()].sort()).toEqual(
      ["artistry", "deep", "quick", "ultrabrain", "unspecified-high", "unspecified-low", "visual-engineering", "writing"].sort(),
    );
    const selection = catalog.select("quick", ["mcp-integration"]);
    expect(selection.category).toBe("quick");
    expect(selection.system).toContain("nubabel_mcp_invoke");
    expect(selection.system).toContain(catalog.categories.get("quick")!.prompt);
  });

  it("refuses unknown categories and skills, listing the known ones", () => {
    const err = (() => {
      try {
        catalog.select("nope", undefined);
      } catch (e) {
        return e as UnknownSelectionError;
      }
    })();
    expect(err).toBeInstanceOf(UnknownSelectionError);
    expect(err!.known).toContain("ultrabrain");
    expect(() => catalog.select(undefined, ["ghost"])).toThrow(/unknown skill "ghost".*mcp-integration/);
  });

  it("merges an operator file: new categories, models, extra skill folders", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "catalog-"));
    mkdirSync(path.join(dir, "skills", "house-style"), { recursive: true });
    writeFileSync(path.join(dir, "skills", "house-style", "SKILL.md"), "---\nname: house-style\ndescription: Our tone\n---\nWrite like us.\n");
    const file = path.join(dir, "sidecar.json");
    writeFileSync(file, JSON.stringify({ defaultCategory: "triage", categories: { triage: { prompt: "Sort it.", model: "p/m" } }, skillDirs: ["skills"] }));
    const merged = Catalog.load({ file, shippedSkillsDir: SHIPPED_SKILLS });
    const selection = merged.select(undefined, ["house-style"]);
    expect(selection).toMatchObject({ category: "triage", model: "p/m" });
    expect(selection.system).toContain("Write like us.");
  });

  it("fails at load on a bad file, naming the field", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "catalog-"));
    const file = path.join(dir, "sidecar.json");
    writeFileSync(file, JSON.stringify({ categories: { x: { model: "no-slash" } } }));
    expect(() => Catalog.load({ file, shippedSkillsDir: SHIPPED_SKILLS })).toThrow(/categories\.x\.model/);
  });
});
