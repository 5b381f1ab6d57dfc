import { randomBytes } from "node:crypto";
import http from "node:http";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import type { SidecarHealth } from "@nubabel/contracts";
import { OMO_CATEGORY_AGENT, OMO_DENIED_TOOLS, OMO_VERSION } from "../src/engine/omo.js";
import { delegateBody, type Harness, ORG, useHarness } from "./fixtures.js";

// Our category file: "quick" and "ultrabrain" on models of their own (served by the scripted model).
const configDir = mkdtempSync(path.join(os.tmpdir(), "omo-config-"));
const CONFIG = path.join(configDir, "sidecar.yaml");
writeFileSync(
  CONFIG,
  [
    "categories:",
    "  quick:",
    "    model: nubabel-model/quick-model",
    "    prompt: QUICK-CATEGORY-PROMPT keep it short.",
    "  ultrabrain:",
    "    model: nubabel-model/ultrabrain-model",
    "    prompt: ULTRABRAIN-CATEGORY-PROMPT think hard.",
  ].join("\n"),
);

/**
 * Every outbound request the engine makes goes through this "proxy", which records it and forwards
 * nothing: the scripted model and our own services are loopback (NO_PROXY), nothing else may be.
 */
const outbound: string[] = [];
const recorder = http.createServer((req, res) => {
  outbound.push(`${req.method} ${req.url}`);
  res.writeHead(502).end("the test's recording proxy forwards nothing");
});
recorder.on("connect", (req, socket) => {
  outbound.push(`CONNECT ${req.url}`);
  socket.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
});
await new Promise<void>((resolve) => recorder.listen(0, "127.0.0.1", resolve));
const PROXY = `http://127.0.0.1:${(recorder.address() as { port: number }).port}`;
// A public address the agent's webfetch may reach (AGENT_WEBFETCH=allow): the proof that the
// engine's outbound traffic does go through the proxy.
const PUBLIC_PROBE = "http://1.1.1.1/nubabel-probe";

/** A line of our shipped mcp-integration skill. */
const SKILL_MARKER = "you never see or need them";

const systemText = (messages: unknown[]): string =>
  (messages as Array<{ role: string; content: unknown }>)
    .filter((m) => m.role === "system")
    .map((m) => (typeof m.content === "string" ? m.content : JSON.stringify(m.content)))
    .join("\n");
const toolNames = (tools: unknown[]): string[] => (tools as Array<{ function?: { name?: string } }>).map((t) => t.function?.name ?? "");

/** Issue 11, first part: OhMyOpenCode loaded into the real engine, offline, with the scripted model. */
describe("OhMyOpenCode in the engine (SIDECAR_OMO=on, real engine and plugin)", () => {
  let h!: Harness;
  useHarness(
    { SIDECAR_OMO: "on", SIDECAR_CONFIG: CONFIG, HTTPS_PROXY: PROXY, HTTP_PROXY: PROXY, NO_PROXY: "127.0.0.1,localhost,::1", AGENT_WEBFETCH: "allow" },
    (started) => (h = started),
  );
  afterAll(() => new Promise<void>((resolve) => recorder.close(() => resolve())));

  it("says on /health that it is loaded, with its version", async () => {
    const health = (await fetch(`${h.sidecar.url}/health`).then((r) => r.json())) as SidecarHealth;
    expect(health.status).toBe("healthy");
    expect(health.omo).toEqual({ enabled: true, version: OMO_VERSION });
  });

  it.each([
    ["quick", "quick-model", "QUICK-CATEGORY-PROMPT"],
    ["ultrabrain", "ultrabrain-model", "ULTRABRAIN-CATEGORY-PROMPT"],
  ])("runs category %s with its agent, model and prompt", async (category, model, prompt) => {
    h.model.script({ text: `answered as ${category}` });
    const res = await h.post("/delegate", delegateBody(h, `ses_omo_${category}`, "do the thing", { category }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "success", output: `answered as ${category}` });
    const request = h.model.requests.filter((r) => !r.auxiliary).at(-1)!;
    expect(request.model).toBe(model);
    const system = systemText(request.messages);
    expect(system).toContain(prompt);
    // And its own prompt for the category, as its task tool gives it.
    expect(system).toContain("<Category_Context>");
    expect(system).toContain(category === "quick" ? "SMALL / QUICK tasks" : "DEEP LOGICAL REASONING");
    // OhMyOpenCode's Sisyphus-Junior speaks to the model, not the engine's default agent.
    expect(system).toContain(OMO_CATEGORY_AGENT);
  });

  it("offers the model none of its tools that reach past the organization, and keeps the bridge's", async () => {
    const tools = async (sessionId: string, extra: Record<string, unknown>) => {
      h.model.script({ text: "ok" });
      await h.post("/delegate", delegateBody(h, sessionId, "list your tools", extra));
      return toolNames(h.model.requests.filter((r) => !r.auxiliary).at(-1)!.tools);
    };
    // No category: its Sisyphus, which may delegate (task); a category: Sisyphus-Junior, which may not.
    const [main, junior] = [await tools("ses_omo_tools", {}), await tools("ses_omo_tools_q", { category: "quick" })];
    expect(main).toContain("task");
    expect(junior).not.toContain("task");
    for (const names of [main, junior]) {
      expect(names).toContain("nubabel_mcp_invoke");
      for (const denied of OMO_DENIED_TOOLS.filter((t) => t !== "grep" && t !== "glob")) expect(names, denied).not.toContain(denied);
    }
  });

  it("keeps its configuration the sidecar's: the agent cannot write the workspace's .omo, by tool or by shell", async () => {
    const ids = [0, 1, 2, 3, 4].map((i) => `call_omo_${i}_${randomBytes(3).toString("hex")}`);
    const evil = JSON.stringify({ "[opencode]": { telemetry: true, auto_update: true } });
    h.model.script(
      { toolCalls: [{ id: ids[0]!, name: "write", arguments: { filePath: ".omo/omo.jsonc", content: evil } }] },
      { toolCalls: [{ id: ids[1]!, name: "bash", arguments: { command: `echo '${evil}' > .omo/omo.jsonc; echo exit=$?`, description: "write" } }] },
      { toolCalls: [{ id: ids[2]!, name: "bash", arguments: { command: "rm -rf .sisyphus; mkdir -p .sisyphus/x; echo exit=$?", description: "rm" } }] },
      // A command file whose `!` lines the plugin would run in the engine's process, outside the sandbox.
      { toolCalls: [{ id: ids[3]!, name: "write", arguments: { filePath: ".claude/commands/x.md", content: "!`env`" } }] },
      { toolCalls: [{ id: ids[4]!, name: "bash", arguments: { command: "mkdir -p .opencode/command && echo '!`env`' > .opencode/command/x.md; echo exit=$?", description: "plant" } }] },
      { text: "done" },
    );
    const res = await h.post("/delegate", delegateBody(h, "ses_omo_config", "reconfigure yourself"));
    expect(res.body.status).toBe("success");
    const messages = h.model.requests.at(-1)!.messages as Array<{ role: string; tool_call_id?: string; content: unknown }>;
    const [write, shell, rm, command, planted] = ids.map((id) => JSON.stringify(messages.find((m) => m.role === "tool" && m.tool_call_id === id)?.content ?? ""));
    expect(write).toMatch(/write refused: .*holds the engine's configuration/);
    expect(shell).toMatch(/Read-only file system/);
    expect(rm).toMatch(/exit=1|Read-only file system|Device or resource busy/);
    const workspace = path.join(h.dataDir, "workspaces", ORG);
    const kept = readFileSync(path.join(workspace, ".omo", "omo.jsonc"), "utf8");
    expect(JSON.parse(kept)["[opencode]"]).toMatchObject({ telemetry: false, auto_update: false });
    expect(existsSync(path.join(workspace, ".sisyphus", "x"))).toBe(false);
    expect(command).toMatch(/write refused: .*holds the engine's configuration/);
    expect(planted).toMatch(/Read-only file system/);
    expect(existsSync(path.join(workspace, ".claude", "commands"))).toBe(false);
    expect(existsSync(path.join(workspace, ".opencode", "command"))).toBe(false);
  });

  it("lets its Sisyphus delegate to a category's subagent, whose tool call through Nubabel is bound to the delegation's organization", async () => {
    const [taskId, invokeId] = ["call_task", "call_invoke"].map((p) => `${p}_${randomBytes(3).toString("hex")}`);
    h.receiver.mcp = (body) => ({ body: { result: `tool ran for ${JSON.stringify(body)}` } });
    h.model.respond((request) => {
      const system = systemText(request.messages);
      const results = (request.messages as Array<{ role: string; tool_call_id?: string }>).filter((m) => m.role === "tool").map((m) => m.tool_call_id);
      if (system.includes("QUICK-CATEGORY-PROMPT") || request.model === "quick-model") {
        // The subagent: one tool call through Nubabel, then its answer.
        return results.includes(invokeId)
          ? { text: "the subagent's answer" }
          : { toolCalls: [{ id: invokeId, name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "search", args: { q: "x" } } }] };
      }
      return results.includes(taskId)
        ? { text: "the parent's answer" }
        : { toolCalls: [{ id: taskId, name: "task", arguments: { category: "quick", load_skills: ["mcp-integration"], description: "quick lookup", prompt: "look it up", run_in_background: false } }] };
    });
    const before = h.model.requests.length;
    const res = await h.post("/delegate", delegateBody(h, "ses_omo_parent", "find it for me"));
    expect(res.body, JSON.stringify(res.body)).toMatchObject({ status: "success", output: "the parent's answer" });
    // The run's usage is its steps and its subagent's, as the model reported them (two each).
    const steps = h.model.requests.slice(before).filter((r) => !r.auxiliary);
    const sum = (rs: typeof steps, key: "prompt_tokens" | "completion_tokens") => rs.reduce((n, r) => n + r.usage![key], 0);
    expect(steps.filter((r) => r.model === "quick-model").length).toBe(2);
    expect(res.body.metadata.usage).toMatchObject({ inputTokens: sum(steps, "prompt_tokens"), outputTokens: sum(steps, "completion_tokens") });
    expect(res.body.metadata.model).not.toContain("quick-model");
    const invoke = h.receiver.received.find((r) => r.path.endsWith("/mcp/invoke"));
    expect(invoke, JSON.stringify(h.receiver.received.map((r) => r.path))).toBeDefined();
    expect(invoke!.body).toMatchObject({ organizationId: ORG, provider: "notion", toolName: "search" });
    // Under the parent's binding: its token, its Nubabel session.
    expect(invoke!.token).toBe("token-for-ses_omo_parent");
    // The subagent is OhMyOpenCode's category agent on the category's model.
    const child = h.model.requests.find((r) => r.model === "quick-model");
    expect(systemText(child!.messages)).toContain(OMO_CATEGORY_AGENT);
    // Our skill, in the format OhMyOpenCode reads, loaded by its task tool's load_skills.
    expect(systemText(child!.messages)).toContain(SKILL_MARKER);
    const progress = h.receiver.progress("ses_omo_parent");
    expect(progress.some((e) => e.type === "tool_started" && (e.data as { tool: string }).tool === "task")).toBe(true);
    // The subagent's own tool call shows in the delegation's progress, under the subagent's name.
    const mine = progress.filter((e) => (e.data as { subagent?: string }).subagent === `quick lookup (@${OMO_CATEGORY_AGENT} subagent)`).map((e) => [e.type, (e.data as { tool: string }).tool]);
    expect(mine).toEqual([
      ["tool_started", "nubabel_mcp_invoke"],
      ["tool_completed", "nubabel_mcp_invoke"],
    ]);
  });

  it("stops the subagent when the delegation is aborted", async () => {
    const taskId = `call_task_${randomBytes(3).toString("hex")}`;
    h.model.respond((request) => {
      if (request.model === "quick-model") return { hang: true };
      return { toolCalls: [{ id: taskId, name: "task", arguments: { category: "quick", load_skills: [], description: "slow lookup", prompt: "take forever", run_in_background: false } }] };
    });
    const accepted = await h.post("/delegate", delegateBody(h, "ses_omo_abort", "start something long"), { headers: { prefer: "respond-async" } });
    expect(accepted.status).toBe(202);
    const parentId = accepted.body.opencodeSessionId as string;
    await vi.waitFor(() => expect(h.model.requests.some((r) => r.model === "quick-model")).toBe(true), { timeout: 20_000, interval: 100 });
    const endpoint = h.sidecar.engine.endpoint()!;
    const engine = createOpencodeClient({ baseUrl: endpoint.url, headers: { authorization: `Basic ${Buffer.from(`opencode:${endpoint.password}`).toString("base64")}` } });
    const directory = path.join(h.dataDir, "workspaces", ORG);
    const children = (await engine.session.children({ sessionID: parentId, directory }, { throwOnError: true })).data;
    expect(children.length).toBe(1);
    const busy = async () => (await engine.session.status({ directory }, { throwOnError: true })).data as Record<string, { type: string }>;
    expect((await busy())[children[0]!.id]?.type).toBe("busy");

    expect((await h.post(`/sessions/${parentId}/abort`)).body).toMatchObject({ aborted: true });
    const run = await vi.waitFor(
      async () => {
        const r = await h.get(`/runs/${accepted.body.runId}`);
        expect(["aborted", "failed", "completed"]).toContain(r.body.status);
        return r.body;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(run.status).toBe("aborted");
    // The subagent's session is no longer working.
    await vi.waitFor(async () => expect((await busy())[children[0]!.id]?.type ?? "idle").toBe("idle"), { timeout: 10_000, interval: 200 });
  });

  it("finds nothing of another organization through its session tools, and starts no background task", async () => {
    const secret = `B-SECRET-${randomBytes(6).toString("hex")}`;
    h.model.script({ text: `noted ${secret}` });
    const b = await h.post("/delegate", delegateBody(h, "ses_omo_b", `remember ${secret}`, { organizationId: "org_testorgb" }));
    expect(b.body.status).toBe("success");
    const bSession = b.body.metadata.opencodeSessionId as string;
    const calls = [
      { name: "session_search", arguments: { query: secret } },
      { name: "session_list", arguments: { project_path: path.join(h.dataDir, "workspaces", "org_testorgb") } },
      { name: "session_read", arguments: { session_id: bSession, include_transcript: true } },
      { name: "task", arguments: { category: "quick", load_skills: [], description: "later", prompt: "do it later", run_in_background: true } },
    ].map((call, i) => ({ ...call, id: `call_x_${i}_${randomBytes(3).toString("hex")}` }));
    h.model.script(...calls.map((call) => ({ toolCalls: [call] })), { text: "done" });
    const res = await h.post("/delegate", delegateBody(h, "ses_omo_a", "look around"));
    expect(res.body.status).toBe("success");
    const messages = h.model.requests.filter((r) => !r.auxiliary).at(-1)!.messages as Array<{ role: string; tool_call_id?: string; content: unknown }>;
    const [search, list, read, background] = calls.map((c) => JSON.stringify(messages.find((m) => m.role === "tool" && m.tool_call_id === c.id)?.content ?? "(no result)"));
    for (const output of [search, list, read]) {
      expect(output).not.toContain(secret);
      expect(output).not.toContain(bSession);
      expect(output).toMatch(/unavailable tool|invalid|not available|unknown/i);
    }
    expect(background).toMatch(/task refused: background tasks are not available here/);
    expect(h.model.requests.some((r) => r.model === "quick-model" && JSON.stringify(r.messages).includes("do it later"))).toBe(false);
  });

  it("holds its agents to the sidecar's permissions: none allows what the sidecar gates or denies", async () => {
    const endpoint = h.sidecar.engine.endpoint()!;
    const engine = createOpencodeClient({ baseUrl: endpoint.url, headers: { authorization: `Basic ${Buffer.from(`opencode:${endpoint.password}`).toString("base64")}` } });
    const agents = (await engine.app.agents({ directory: path.join(h.dataDir, "workspaces", ORG) }, { throwOnError: true })).data;
    // Its planner allows bash, edit and webfetch in its own rules, which the engine applies after ours.
    expect(agents.length).toBeGreaterThan(5);
    const lastRule = (rules: Array<{ permission: string; pattern: string; action: string }>, permission: string) =>
      rules.findLast((r) => (r.permission === permission || r.permission === "*") && r.pattern === "*")?.action;
    const loose = agents.flatMap((agent) =>
      ["bash", "edit", "nubabel_mcp", "webfetch", "external_directory"].flatMap((p) => (lastRule(agent.permission, p) === "allow" ? [`${agent.name}: ${p}`] : [])),
    );
    expect(loose).toEqual([]);
  });

  // Last: by now every other test of this file has run its turns through the plugin.
  it("made no outbound connection but the one its agent was asked to make", async () => {
    const fetchId = `call_fetch_${randomBytes(3).toString("hex")}`;
    h.model.script({ toolCalls: [{ id: fetchId, name: "webfetch", arguments: { url: PUBLIC_PROBE, format: "text" } }] }, { text: "fetched" });
    const res = await h.post("/delegate", delegateBody(h, "ses_omo_outbound", "fetch the probe"));
    expect(res.body.status).toBe("success");
    const messages = h.model.requests.at(-1)!.messages as Array<{ role: string; tool_call_id?: string; content: unknown }>;
    const fetched = JSON.stringify(messages.find((m) => m.role === "tool" && m.tool_call_id === fetchId)?.content ?? "");
    expect(outbound, fetched).toEqual([`GET ${PUBLIC_PROBE}`]);
  });
});
