import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseEnv } from "../config/env.js";
import { buildEngineConfig, CUSTOM_PROVIDER, PERMISSION } from "./opencode-config.js";
import { mergePermissions, tightenAgents } from "./permissions.js";

const secret = `whsec_${Buffer.alloc(32, 7).toString("base64")}`;
const env = (extra: Record<string, string>) => parseEnv({ SIDECAR_SHARED_SECRET: secret, ...extra });
const userFile = (config: unknown) => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "oc-config-")), "opencode.json");
  writeFileSync(file, JSON.stringify(config));
  return file;
};

describe("buildEngineConfig", () => {
  it("makes MODEL_BASE_URL + MODEL_NAME the default model, with the key only referenced", () => {
    const built = buildEngineConfig(env({ MODEL_BASE_URL: "http://m.local/v1", MODEL_NAME: "big", MODEL_API_KEY: "sk-1" }), "/p.ts");
    expect(built.model).toBe(`${CUSTOM_PROVIDER}/big`);
    expect(JSON.stringify(built.content)).not.toContain("sk-1");
    expect(built.providerEnv).toEqual({ MODEL_API_KEY: "sk-1" });
    expect(built.content.plugin).toEqual(["file:///p.ts"]);
  });

  it("falls back to Anthropic, then to the operator's file, then to none", () => {
    expect(buildEngineConfig(env({ ANTHROPIC_API_KEY: "sk-ant" }), "/p.ts").model).toBe("anthropic/claude-sonnet-4-5");
    expect(buildEngineConfig(env({ OPENCODE_CONFIG: userFile({ model: "x/y" }) }), "/p.ts").model).toBe("x/y");
    expect(buildEngineConfig(env({}), "/p.ts").model).toBeNull();
  });

  it("lets the operator tighten permissions but never loosen ours or leave one asking", () => {
    const file = userFile({ permission: { bash: "deny", edit: "ask", external_directory: "allow", webfetch: "allow" }, share: "auto", plugin: ["their-plugin"] });
    const { content } = buildEngineConfig(env({ OPENCODE_CONFIG: file }), "/p.ts");
    expect(content.permission).toEqual({ ...PERMISSION, bash: "deny", edit: "deny" });
    expect(content.share).toBe("disabled");
    expect(content.plugin).toEqual(["their-plugin", "file:///p.ts"]);
  });

  it("makes the gated permissions ask, webfetch only where the operator lets the agent fetch", () => {
    expect(buildEngineConfig(env({}), "/p.ts").content.permission).toMatchObject({ "*": "allow", bash: "ask", edit: "ask", nubabel_mcp: "ask", webfetch: "deny" });
    expect(buildEngineConfig(env({ AGENT_WEBFETCH: "allow" }), "/p.ts").content.permission).toMatchObject({ webfetch: "ask" });
  });

  it("holds the operator's agents to the same terms and a stricter '*' over our keys", () => {
    const file = userFile({ permission: { "*": "deny" }, agent: { build: { permission: { bash: "allow", edit: { "*.md": "allow", "*": "deny" }, read: "ask" } } } });
    const { content } = buildEngineConfig(env({ OPENCODE_CONFIG: file }), "/p.ts");
    expect(content.permission).toMatchObject({ "*": "deny", bash: "deny", nubabel_mcp: "deny", external_directory: "deny" });
    expect((content.agent as Record<string, { permission: unknown }>).build!.permission).toEqual({ bash: "ask", edit: { "*.md": "ask", "*": "deny" }, read: "deny" });
  });

  it("repeats our rules after an agent's own '*' (which the engine applies after them)", () => {
    const base = buildEngineConfig(env({}), "/p.ts").content.permission as Record<string, unknown>;
    const agents = tightenAgents(base, { plan: { permission: { "*": "allow", edit: "allow", question: "allow" } }, other: { mode: "all" } });
    expect(agents.plan).toEqual({ permission: { ...base, edit: "ask", question: "deny" } });
    expect(Object.keys((agents.plan as { permission: object }).permission)[0]).toBe("*");
    expect(agents.other).toEqual({ mode: "all" });
  });

  it("keeps our own rules as they are when a config that holds them is merged again (in the engine, by our plugin)", () => {
    const base = buildEngineConfig(env({}), "/p.ts").content.permission as Record<string, unknown>;
    const edited = { webfetch: "allow", external_directory: "allow", ...base, task: "deny" };
    const merged = mergePermissions(base, edited, "ours-kept");
    expect(merged).toEqual({ ...base, task: "deny" });
    expect(Object.keys(merged)[0]).toBe("*");
    expect(tightenAgents(base, { a: { permission: { bash: "ask", edit: "allow" } } }, "ours-kept")).toEqual({ a: { permission: { bash: "ask", edit: "ask" } } });
  });

  it("names the file when it cannot be read", () => {
    expect(() => buildEngineConfig(env({ OPENCODE_CONFIG: "/nope/opencode.json" }), "/p.ts")).toThrow(/OPENCODE_CONFIG \(\/nope\/opencode.json\)/);
  });
});
