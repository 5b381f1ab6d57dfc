import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { instructionPaths, outsideReason, patchPaths, pathsOf } from "./confine.js";

describe("workspace confinement", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "confine-"));
  const a = path.join(root, "org_a");
  const b = path.join(root, "org_b");
  mkdirSync(path.join(a, "src"), { recursive: true });
  mkdirSync(b);
  writeFileSync(path.join(b, "secret.txt"), "B's");
  symlinkSync(b, path.join(a, "to-b"));
  symlinkSync(path.join(b, "secret.txt"), path.join(a, "secret-link"));
  symlinkSync(path.join(b, "new.txt"), path.join(a, "dangling"));
  symlinkSync(path.join(a, "src"), path.join(a, "inner-link"));

  it("allows paths inside the workspace, existing or not, and links that stay inside", async () => {
    for (const p of [".", "src", "src/new/deep.txt", path.join(a, "src"), "inner-link/x.ts", "./src/../src"]) {
      expect(await outsideReason(a, p), p).toBeUndefined();
    }
  });

  it("refuses .., absolute paths and symlinks that lead out, also to files that do not exist yet", async () => {
    for (const p of ["..", "../org_b/secret.txt", b, path.join(b, "secret.txt"), "/etc/passwd", "to-b/secret.txt", "secret-link", "to-b/new-file.txt"]) {
      expect(await outsideReason(a, p), p).toMatch(/outside this organization's workspace/);
    }
    expect(await outsideReason(a, "dangling")).toMatch(/symlink that points nowhere/);
  });

  it("finds the paths of each file tool, and every file an apply_patch touches", () => {
    expect(pathsOf("read", { filePath: "x" })).toEqual(["x"]);
    expect(pathsOf("glob", { pattern: "**/*" })).toEqual(["."]);
    expect(pathsOf("grep", { pattern: "k", path: "/etc" })).toEqual(["/etc"]);
    expect(pathsOf("bash", { command: "ls" })).toEqual([]);
    expect(pathsOf("bash", { command: "ls", workdir: "../org_b" })).toEqual(["../org_b"]);
    expect(pathsOf("todowrite", { todos: [] })).toEqual([]);
    const patch = ["*** Begin Patch", "*** Add File: a.txt", "+x", "*** Update File: src/b.ts", "*** Move to: ../org_b/b.ts", "@@", "*** Delete File: c.txt", "*** End Patch"].join("\n");
    expect(patchPaths(patch)).toEqual(["a.txt", "src/b.ts", "../org_b/b.ts", "c.txt"]);
    // Read as the engine reads it: a \r or a line separator inside a name does not hide the header.
    for (const odd of ["q\r/../to-b/x", "q\u2028/../to-b/x", "q\u2029/x", "a\u0000b"]) {
      expect(() => patchPaths(`*** Begin Patch\n*** Add File: ${odd}\n+x\n*** End Patch`), JSON.stringify(odd)).toThrow(/control character/);
    }
    expect(patchPaths("*** Update File:   spaced.txt  \r\n")).toEqual(["spaced.txt"]);
  });

  it("finds the instruction files a read brings in, on every folder up to the workspace", async () => {
    mkdirSync(path.join(a, "deep", "er"), { recursive: true });
    symlinkSync(path.join(b, "secret.txt"), path.join(a, "deep", "AGENTS.md"));
    writeFileSync(path.join(a, "CONTEXT.md"), "ours");
    const found = await instructionPaths(a, "deep/er/file.txt");
    expect(found).toEqual([path.join(a, "deep", "AGENTS.md"), path.join(a, "CONTEXT.md")]);
    expect(await outsideReason(a, found[0]!)).toMatch(/outside/);
    expect(await instructionPaths(a, "/etc/passwd")).toEqual([]);
  });
});
