import { readFileSync } from "node:fs";
import type { Env } from "../config/env.js";
import { type Action, mergePermissions, tightenAgents } from "./permissions.js";

/** The provider id under which `MODEL_BASE_URL` is registered with the engine. */
export const CUSTOM_PROVIDER = "nubabel-model";

/**
 * Nothing waits for a person unless Nubabel asked for it: everything inside the workspace is
 * allowed, anything that would leave the workspace (or search the web) is denied outright. The
 * tools a run's approvals may cover (`bash`; `edit`, which the engine's write, edit and patch
 * tools all ask; and `nubabel_mcp`, which the bridge plugin asks before each MCP call) "ask":
 * the sidecar's permission gate answers every ask at once unless the run's approvals cover it
 * (src/approvals/). Later keys win over `"*"` (the engine's last matching rule wins). The
 * engine's own checks are lexical; the nubabel-bridge plugin adds real-path checks and the URL
 * policy.
 */
export const PERMISSION = {
  "*": "allow",
  external_directory: "deny",
  doom_loop: "deny",
  question: "deny",
  webfetch: "deny",
  websearch: "deny",
  bash: "ask",
  edit: "ask",
  nubabel_mcp: "ask",
} as const;

/** The permissions the sidecar's gate answers (see `PERMISSION`); any other ask is refused. */
export const GATED_PERMISSIONS: ReadonlySet<string> = new Set(["bash", "edit", "webfetch", "nubabel_mcp"]);

export interface EngineConfig {
  /** `OPENCODE_CONFIG_CONTENT` for the child. */
  content: Record<string, unknown>;
  /** `provider/model` of the default model; null when none is configured. */
  model: string | null;
  /** Environment variables the model provider needs inside the engine (API keys). */
  providerEnv: Record<string, string>;
}

function readUserConfig(file: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a JSON object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new Error(`OPENCODE_CONFIG (${file}) could not be read: ${(err as Error).message}`);
  }
}

/**
 * Builds the engine's configuration. Precedence for the model: `MODEL_BASE_URL`+`MODEL_NAME`,
 * then `ANTHROPIC_API_KEY`, then the `model` of the `OPENCODE_CONFIG` file. Safety settings
 * (sharing, updates, our plugin, our permissions) win over the user's file; its own permissions
 * (top-level and its agents') apply where they are stricter, and its "ask" (nobody would answer
 * it: only the asks Nubabel's approvals make reach a person) becomes "deny".
 */
export function buildEngineConfig(env: Env, pluginFile: string, opts: { shell?: string; plugins?: string[]; categoryModels?: string[] } = {}): EngineConfig {
  const user = env.OPENCODE_CONFIG ? readUserConfig(env.OPENCODE_CONFIG) : {};
  const provider = { ...((user.provider as Record<string, unknown>) ?? {}) };
  const providerEnv: Record<string, string> = {};
  let model = typeof user.model === "string" ? user.model : null;
  // The shell is ours to set (the sandbox); the operator's file does not get to replace it.
  delete user.shell;

  if (env.MODEL_BASE_URL && env.MODEL_NAME) {
    provider[CUSTOM_PROVIDER] = {
      npm: "@ai-sdk/openai-compatible",
      name: "Configured model",
      options: {
        baseURL: env.MODEL_BASE_URL,
        // Referenced, not inlined: the key reaches the engine only as its own variable.
        ...(env.MODEL_API_KEY ? { apiKey: "{env:MODEL_API_KEY}" } : {}),
      },
      // Categories may name other models of the same server (`nubabel-model/<name>`).
      models: Object.fromEntries(
        [env.MODEL_NAME, ...(opts.categoryModels ?? []).flatMap((m) => (m.startsWith(`${CUSTOM_PROVIDER}/`) ? [m.slice(CUSTOM_PROVIDER.length + 1)] : []))].map(
          (name) => [name, { name, tool_call: true }],
        ),
      ),
    };
    if (env.MODEL_API_KEY) providerEnv.MODEL_API_KEY = env.MODEL_API_KEY;
    model = `${CUSTOM_PROVIDER}/${env.MODEL_NAME}`;
  } else if (env.ANTHROPIC_API_KEY) {
    providerEnv.ANTHROPIC_API_KEY = env.ANTHROPIC_API_KEY;
    model = "anthropic/claude-sonnet-4-5";
  }

  const userPlugins = Array.isArray(user.plugin) ? (user.plugin as unknown[]) : [];
  // The operator may tighten permissions (deny `bash`, say) but not loosen what we deny.
  const userPermission = typeof user.permission === "object" && user.permission ? (user.permission as Record<string, unknown>) : {};
  // Web fetches ask too where the operator lets the agent fetch at all.
  const ours: Record<string, Action> = { ...PERMISSION, ...(env.AGENT_WEBFETCH === "allow" ? { webfetch: "ask" } : {}) };
  const permission = mergePermissions(ours, userPermission);
  // An agent's own rules come after these in the engine: the operator's agents are held to the
  // same terms, so that an agent's "allow" cannot skip an approval nor its "ask" hang a session.
  if (user.agent && typeof user.agent === "object") user.agent = tightenAgents(ours, user.agent as Record<string, unknown>);
  const content: Record<string, unknown> = {
    ...user,
    $schema: "https://opencode.ai/config.json",
    provider,
    ...(model ? { model, small_model: (user.small_model as string | undefined) ?? model } : {}),
    share: "disabled",
    autoupdate: false,
    // Nothing the workspace holds may start a process outside the sandbox: formatters and language
    // servers run binaries found there, and snapshots run git with the workspace's own config.
    formatter: false,
    lsp: false,
    snapshot: false,
    ...(opts.shell ? { shell: opts.shell } : {}),
    permission,
    plugin: [...userPlugins, ...(opts.plugins ?? []).map((file) => `file://${file}`), `file://${pluginFile}`],
  };
  return { content, model, providerEnv };
}
