import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { delegateBody, type Harness, useHarness } from "./fixtures.js";

// An operator config that makes the build agent ask before running a shell command: exactly what
// would hang a headless session if nobody answered.
const dir = mkdtempSync(path.join(os.tmpdir(), "sidecar-perm-"));
const configFile = path.join(dir, "opencode.json");
writeFileSync(configFile, JSON.stringify({ agent: { build: { permission: { bash: "ask" } } } }));
// A category that runs the build agent: with OhMyOpenCode loaded too (whose agents are the default).
const sidecarFile = path.join(dir, "sidecar.json");
writeFileSync(sidecarFile, JSON.stringify({ categories: { "ask-first": { agent: "build" } } }));

describe("a permission request never hangs a session", () => {
  let h!: Harness;
  useHarness({ OPENCODE_CONFIG: configFile, SIDECAR_CONFIG: sidecarFile }, (started) => (h = started));

  // An operator's "ask" is written into the engine's config as "deny" (nobody would answer it;
  // only the asks a run's approvals make reach a person): the engine then does not offer the tool
  // at all, so the model is told it is unavailable. Before approvals the ask reached the sidecar,
  // which refused it; that path is now the permission gate's (src/approvals/permission-gate.test.ts).
  it("is refused, the model is told why, and the turn completes", async () => {
    h.model.script(
      { toolCalls: [{ name: "bash", arguments: { command: "echo hello", description: "Say hello" } }] },
      { text: "I was not allowed to run that." },
    );
    const res = await h.post("/delegate", delegateBody(h, "ses_perm", "run echo hello", { category: "ask-first" }));
    expect(res.body).toMatchObject({ status: "success", output: "I was not allowed to run that." });
    await h.receiver.until(() => h.receiver.progress("ses_perm").some((e) => e.type === "completed"));
    expect(h.receiver.progress("ses_perm").map((e) => e.type)).not.toContain("permission_asked");
    expect(JSON.stringify(h.model.requests.at(-1)!.messages)).toMatch(/unavailable tool 'bash'|not allowed in a Nubabel session|rejected/i);
  });
});
