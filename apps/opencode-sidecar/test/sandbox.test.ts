import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { SidecarHealth } from "@nubabel/contracts";
import type { EngineSupervisor } from "../src/engine/supervisor.js";
import { delegateBody, type Harness, ORG, useHarness } from "./fixtures.js";

const OTHER_ORG = "org_testorgb";
const B_SECRET = `B-SECRET-${randomBytes(6).toString("hex")}`;

interface Call {
  name: string;
  arguments: Record<string, unknown>;
}

/**
 * Runs one turn in which the scripted agent makes `calls`, one per step, and answers "done".
 * Returns what each call's result said to the model, in order.
 */
async function agent(h: Harness, sessionId: string, calls: Call[], organizationId = ORG): Promise<string[]> {
  const ids = calls.map((_, i) => `call_${sessionId}_${i}_${randomBytes(3).toString("hex")}`);
  h.model.script(...calls.map((call, i) => ({ toolCalls: [{ ...call, id: ids[i]! }] })), { text: "done" });
  const res = await h.post("/delegate", delegateBody(h, sessionId, "work", { organizationId }));
  expect(res.body.status, JSON.stringify(res.body)).toBe("success");
  const messages = h.model.requests.at(-1)!.messages as Array<{ role: string; tool_call_id?: string; content: unknown }>;
  return ids.map((id) => {
    const reply = messages.find((m) => m.role === "tool" && m.tool_call_id === id);
    return reply ? (typeof reply.content === "string" ? reply.content : JSON.stringify(reply.content)) : "(no result)";
  });
}

const bash = (command: string): Call => ({ name: "bash", arguments: { command, description: "Run a command" } });

/** Acceptance (issue 9): a scripted agent of one organization attacks through the real engine's tools. */
describe("the agent's sandbox (bubblewrap, real engine)", () => {
  let h!: Harness;
  useHarness({ SANDBOX_TIMEOUT_MS: "6000", SANDBOX_OUTPUT_BYTES: "4096", SANDBOX_MEMORY_MB: "512", AGENT_WEBFETCH: "allow" }, (started) => (h = started));

  const workspace = (org: string) => path.join(h.dataDir, "workspaces", org);
  const engineSecrets = () => {
    const pid = (h.sidecar.engine as EngineSupervisor).pid!;
    const env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter(Boolean)
        .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
    );
    return [env.OPENCODE_SERVER_PASSWORD!, env.NUBABEL_BRIDGE_SECRET!, h.secret.slice("whsec_".length)];
  };
  const expectNothingOf = (outputs: string[]) => {
    const all = outputs.join("\n");
    expect(all).not.toContain(B_SECRET);
    for (const secret of engineSecrets()) expect(all).not.toContain(secret);
  };

  it("reports the sandbox on /health", async () => {
    const health = (await fetch(`${h.sidecar.url}/health`).then((r) => r.json())) as SidecarHealth;
    expect(health.sandbox).toEqual({ mode: "bwrap", shell: "sandboxed", network: "none" });
  });

  // Ten real shell calls in the sandbox, one after another: 40 s on a loaded two-core machine, more
  // when something else runs beside the suite, so it gets more than the suite's 60 s.
  it("keeps one organization's shell out of the engine, the services and another organization", async () => {
    await agent(h, "ses_b_setup", [bash(`echo ${B_SECRET} > secret-b.txt && mkdir -p notes && echo ${B_SECRET} > notes/b.txt`)], OTHER_ORG);
    expect(readFileSync(path.join(workspace(OTHER_ORG), "secret-b.txt"), "utf8")).toContain(B_SECRET);
    const b = workspace(OTHER_ORG);
    const engine = new URL((h.sidecar.engine as EngineSupervisor).endpoint()!.url);
    const marker = `/tmp/sandbox-marker-${randomBytes(4).toString("hex")}`;

    const [environ, ps, lsAbs, catAbs, lsRel, catRel, writes, curl, node] = await agent(h, "ses_attack", [
      bash("grep -a . /proc/*/environ 2>&1; tr '\\0' '\\n' < /proc/1/environ; echo; tr '\\0' '\\n' < /proc/$PPID/environ"),
      bash("ps aux"),
      bash(`ls -la ${b} 2>&1; ls ${h.dataDir}/workspaces 2>&1`),
      bash(`cat ${b}/secret-b.txt 2>&1; head ${b}/notes/b.txt 2>&1`),
      bash(`ls ../${OTHER_ORG} 2>&1; ls .. 2>&1`),
      bash(`cat ../${OTHER_ORG}/secret-b.txt 2>&1; grep -r B-SECRET .. 2>&1 | head`),
      bash(`echo pwned > ${h.dataDir}/pwned.txt; echo pwned > ../pwned.txt; echo pwned > ${b}/pwned.txt; echo kept > ${marker}; echo exit=$?`),
      bash(`curl -sS -m 3 ${h.sidecar.url}/health 2>&1; curl -sS -m 3 ${engine.origin}/ 2>&1; curl -sS -m 3 ${h.receiver.url}/ 2>&1; echo curl-done`),
      bash(`node -e "fetch('${h.sidecar.url}/health').then(r => r.text()).then(t => console.log('GOT', t), e => console.log('refused', e.cause?.code ?? e.message))"`),
    ]);

    expectNothingOf([environ!, ps!, lsAbs!, catAbs!, lsRel!, catRel!, writes!, curl!, node!]);
    // Only the sandbox's own processes: no engine, no sidecar, no other organization's commands.
    expect(ps).not.toMatch(/opencode serve|bin\/opencode|vitest|node |redis|postgres/);
    expect(ps!.trim().split("\n").length).toBeLessThan(8);
    expect(lsAbs).toMatch(/No such file or directory/);
    // Its parent shows its own folder only (the error lines echo the name the agent typed).
    expect(lsAbs).not.toMatch(new RegExp(`^${OTHER_ORG}$`, "m"));
    // Refused by the engine's own lexical check, or, where that cannot see the path, not found in the sandbox.
    expect(catAbs).toMatch(/No such file or directory|prevents you from using this specific tool call/);
    expect(lsRel).not.toMatch(new RegExp(`^${OTHER_ORG}$`, "m"));
    expect(lsRel).toMatch(new RegExp(`^${ORG}$`, "m"));
    for (const file of [path.join(h.dataDir, "pwned.txt"), path.join(h.dataDir, "workspaces", "pwned.txt"), path.join(b, "pwned.txt")]) {
      expect(existsSync(file), file).toBe(false);
    }
    expect(existsSync(marker)).toBe(false); // its /tmp is its own
    expect(curl).not.toMatch(/healthy|"status"/);
    expect(curl).toMatch(/Couldn't connect|Failed to connect|Could not resolve/);
    expect(node).toMatch(/^refused/m);
    expect(node).not.toContain("GOT");
  }, 180_000);

  it("refuses the engine's file tools outside the workspace, directly and through a symlink the agent made", async () => {
    const b = workspace(OTHER_ORG);
    const [readAbs, readRel, edit, write, glob, grep, link, readLink, grepLink] = await agent(h, "ses_files", [
      { name: "read", arguments: { filePath: path.join(b, "secret-b.txt") } },
      { name: "read", arguments: { filePath: `../${OTHER_ORG}/secret-b.txt` } },
      { name: "edit", arguments: { filePath: path.join(b, "secret-b.txt"), oldString: B_SECRET, newString: "defaced" } },
      { name: "write", arguments: { filePath: path.join(b, "planted.txt"), content: "planted" } },
      { name: "glob", arguments: { pattern: "**/*", path: b } },
      { name: "grep", arguments: { pattern: "B-SECRET", path: b } },
      bash(`ln -s ${b} to-b && ln -s ${b}/secret-b.txt secret-link && ls -la to-b secret-link`),
      { name: "read", arguments: { filePath: "to-b/secret-b.txt" } },
      { name: "grep", arguments: { pattern: "B-SECRET", path: "to-b" } },
    ]);
    const [readLinkFile, planted, readNested] = await agent(h, "ses_files2", [
      { name: "read", arguments: { filePath: "secret-link" } },
      // The engine adds an AGENTS.md of any folder on the way to what it reads, following links.
      bash(`mkdir -p nested && ln -s ${b}/secret-b.txt nested/AGENTS.md && echo hello > nested/x.txt && echo planted`),
      { name: "read", arguments: { filePath: "nested/x.txt" } },
    ]);
    expect(planted).toContain("planted");
    expect(readNested).toMatch(/read refused: .*AGENTS\.md is outside this organization's workspace/);
    expect(readNested).not.toContain(B_SECRET);
    for (const output of [readAbs, readRel, edit, write, glob, grep, readLink, grepLink, readLinkFile]) {
      expect(output).toMatch(/refused: .* is outside this organization's workspace/);
    }
    expect(link).toMatch(/to-b/);
    expectNothingOf([readAbs!, readRel!, edit!, write!, glob!, grep!, readLink!, grepLink!, readLinkFile!]);
    expect(readFileSync(path.join(b, "secret-b.txt"), "utf8")).toContain(B_SECRET);
    expect(existsSync(path.join(b, "planted.txt"))).toBe(false);
  });

  it("refuses webfetch to loopback, cloud metadata and private addresses", async () => {
    const outputs = await agent(h, "ses_fetch", [
      { name: "webfetch", arguments: { url: `${h.sidecar.url}/health`, format: "text" } },
      { name: "webfetch", arguments: { url: "http://169.254.169.254/latest/meta-data/", format: "text" } },
      { name: "webfetch", arguments: { url: "http://10.1.2.3/", format: "text" } },
      { name: "webfetch", arguments: { url: "http://[::ffff:127.0.0.1]:9/", format: "text" } },
    ]);
    for (const output of outputs) expect(output).toMatch(/webfetch refused: .* (loopback|link-local|private)/);
    expect(outputs.join("\n")).not.toMatch(/healthy/);
  });

  it("starts no run in a workspace where the engine dropped the bridge plugin (it would leave the file tools unconfined)", async () => {
    // The engine drops a plugin that fails to load without a word; stand in for that by hiding ours.
    const driver = (h.sidecar.runner as unknown as { o: { driver: { toolIds(directory: string): Promise<string[]> } } }).o.driver;
    const real = driver.toolIds.bind(driver);
    expect(await real(workspace(ORG))).toContain("nubabel_mcp_list");
    driver.toolIds = async (directory) => (await real(directory)).filter((id) => !id.startsWith("nubabel_"));
    try {
      const res = await h.post("/delegate", delegateBody(h, "ses_noplugin", "hello", { organizationId: "org_noplugin1" }));
      expect(res.status).toBe(503);
      expect(res.body.error).toMatchObject({ code: "plugin_not_loaded", message: expect.stringMatching(/nubabel-bridge plugin/) });
      expect(h.model.requests).toHaveLength(0);
    } finally {
      driver.toolIds = real;
    }
  });

  it("still does ordinary work, and cuts a command that runs too long, prints too much or takes too much memory", async () => {
    const [files, node, git, pipeline, read, slow, loud, greedy] = await agent(h, "ses_work", [
      bash("mkdir -p src && echo 'hello sandbox' > src/notes.txt && cat src/notes.txt && ls src"),
      bash(`node -e "console.log('answer', 6 * 7)"`),
      bash("git init -q repo && cd repo && git config user.email a@b.c && git config user.name A && echo x > f && git add f && git commit -qm first && git log --oneline | wc -l"),
      bash("printf 'pear\\napple\\nfig\\n' | sort | tr a-z A-Z | head -2"),
      { name: "read", arguments: { filePath: "src/notes.txt" } },
      bash("echo started; sleep 30; echo never"),
      bash("seq 1 100000"),
      bash(`node -e "const kept = []; for (let i = 0; i < 200; i++) kept.push(Buffer.allocUnsafe(1e7)); console.log('kept', kept.length)" 2>&1 | tail -3; echo "exit=\${PIPESTATUS[0]}"`),
    ]);
    expect(files).toContain("hello sandbox");
    expect(readFileSync(path.join(workspace(ORG), "src", "notes.txt"), "utf8")).toBe("hello sandbox\n");
    expect(node).toContain("answer 42");
    expect(git!.trim()).toMatch(/^1$/m);
    expect(pipeline).toMatch(/APPLE\s+FIG/);
    expect(read).toContain("hello sandbox");
    expect(slow).toContain("started");
    expect(slow).toMatch(/\[nubabel sandbox\] stopped: the command ran longer than 6 s/);
    expect(slow).not.toContain("never");
    expect(loud).toMatch(/\[nubabel sandbox\] output cut at 4096 bytes/);
    expect(loud).not.toContain("100000");
    // 2 GB asked for under a 512 MiB bound: the allocation fails, the command ends (well before the
    // time bound, which is generous so that a busy machine starting node does not reach it first).
    expect(greedy).not.toContain("kept 200");
    expect(greedy).toMatch(/exit=[1-9]/);
  });
});

describe("with SANDBOX=off (single-tenant hosts)", () => {
  let h!: Harness;
  useHarness({ SANDBOX: "off" }, (started) => (h = started));

  it("says on /health that the agent's shell is unsandboxed, and still confines the file tools", async () => {
    const health = (await fetch(`${h.sidecar.url}/health`).then((r) => r.json())) as SidecarHealth;
    expect(health.sandbox).toMatchObject({ mode: "off", shell: "unsandboxed", network: "host", reason: expect.stringMatching(/SANDBOX=off/) });
    const [shell, read] = await agent(h, "ses_off", [bash("echo plain shell"), { name: "read", arguments: { filePath: "/etc/hostname" } }]);
    expect(shell).toContain("plain shell");
    expect(read).toMatch(/outside this organization's workspace/);
  });
});

describe("where bubblewrap cannot run", () => {
  let h!: Harness;
  useHarness({ SANDBOX_BWRAP: "/nonexistent/bwrap" }, (started) => (h = started));

  it("refuses shell commands with the reason, never running them unsandboxed, and says so on /health", async () => {
    const res = await fetch(`${h.sidecar.url}/health`);
    const health = (await res.json()) as SidecarHealth;
    expect(res.status).toBe(200);
    expect(health.sandbox).toMatchObject({ mode: "bwrap", shell: "refused", reason: expect.stringMatching(/not installed.*SANDBOX=off/) });
    expect(health.problems!.join("\n")).toMatch(/shell commands are refused/);
    const [shell] = await agent(h, "ses_nobwrap", [bash("echo ran > ran.txt; echo ran")]);
    expect(shell).toMatch(/\[nubabel sandbox\] shell commands are refused: bubblewrap .* is not installed/);
    expect(existsSync(path.join(h.dataDir, "workspaces", ORG, "ran.txt"))).toBe(false);
  });
});
