import { createRequire } from "node:module";
import path from "node:path";
import { readFileSync } from "node:fs";

/**
 * OhMyOpenCode (npm `oh-my-opencode`, an optional dependency of the sidecar), loaded into the
 * supervised engine with `SIDECAR_OMO=on`. Its facts here are read off the pinned 4.19.4.
 */
export const OMO_VERSION = "4.19.4";

/** The agent its `task` tool runs a category with; `/delegate` runs a category with it too. */
export const OMO_CATEGORY_AGENT = "Sisyphus-Junior";

/**
 * Its tools that reach past one organization's sessions and workspace, or run a process outside
 * the sandbox: the engine's other sessions (`session_*`), tmux (`interactive_bash`), MCP servers
 * started from skills (`skill_mcp`), files by any path (`look_at`), other sessions' background
 * output, and its own `grep`/`glob` (the engine's, which the bridge confines, stay).
 */
export const OMO_DENIED_TOOLS = [
  "session_list",
  "session_read",
  "session_search",
  "session_info",
  "interactive_bash",
  "skill_mcp",
  "look_at",
  "call_omo_agent",
  "background_output",
  "background_cancel",
  "grep",
  "glob",
] as const;

/**
 * Its configuration (`.omo/omo.jsonc`), offline: no telemetry, update checks, model-list refresh,
 * remote or local MCP servers (`lsp` runs language servers), binary downloads (ast-grep,
 * codegraph, comment-checker), Claude Code imports or skills that fetch. A key it does not know at
 * the top level voids the whole file, so everything goes under `"[opencode]"`.
 */
export function omoConfig(categories: Record<string, { model?: string }>): Record<string, unknown> {
  return {
    "[opencode]": {
      telemetry: false,
      auto_update: false,
      // auto-slash-command: a prompt's "/name" would run a command file's `!` lines in the engine.
      disabled_hooks: ["auto-update-checker", "ast-grep-sg-provision", "codegraph-bootstrap", "comment-checker", "webfetch-redirect-guard", "auto-slash-command"],
      disabled_mcps: ["websearch", "context7", "grep_app", "codegraph", "lsp"],
      disabled_tools: [...OMO_DENIED_TOOLS],
      disabled_skills: ["playwright", "security-research", "security-review"],
      model_capabilities: { enabled: false, auto_refresh_on_start: false },
      codegraph: { enabled: false, auto_provision: false, auto_init: false },
      claude_code: { mcp: false, plugins: false, hooks: false },
      tui: { sidebar: { enabled: false } },
      // Its built-in models are remote ones; a category runs on the operator's model for it.
      categories: Object.fromEntries(Object.entries(categories).flatMap(([name, c]) => (c.model ? [[name, { model: c.model }]] : []))),
    },
  };
}

/** Environment for the engine with OhMyOpenCode: telemetry off even if a config file were voided. */
export const OMO_ENV = { OMO_DISABLE_POSTHOG: "1", OMO_SEND_ANONYMOUS_TELEMETRY: "0" } as const;

/** The installed plugin: its entry file and version; throws when the optional dependency is absent. */
export function omoPackage(): { pluginFile: string; version: string } {
  const require = createRequire(import.meta.url);
  let dist: string;
  try {
    // Its exports name no package.json; the schema sits beside the entry file.
    dist = path.dirname(require.resolve("oh-my-opencode/schema.json"));
  } catch {
    throw new Error("SIDECAR_OMO=on but oh-my-opencode is not installed (it is an optional dependency of the sidecar: run npm ci)");
  }
  const version = (JSON.parse(readFileSync(path.join(dist, "..", "package.json"), "utf8")) as { version: string }).version;
  if (version !== OMO_VERSION) throw new Error(`SIDECAR_OMO=on needs oh-my-opencode ${OMO_VERSION}; ${version} is installed`);
  return { pluginFile: path.join(dist, "index.js"), version };
}

/**
 * Its built-in categories' prompts (what its `task` tool adds to Sisyphus-Junior's instructions),
 * read off the pinned bundle: they are not exported. Fails when a category's text is not found, so
 * a different bundle stops the start rather than running categories without their prompts.
 */
export function omoCategoryPrompts(pluginFile: string): Record<string, string> {
  const bundle = readFileSync(pluginFile, "utf8");
  const texts = new Map(
    [...bundle.matchAll(/var (\w+_CATEGORY_PROMPT_APPEND) = `((?:[^`\\]|\\.)*)`;/g)].map((m) => [m[1]!, m[2]!.replace(/\\([`$\\])/g, "$1")]),
  );
  const prompts: Record<string, string> = {};
  const definitions = /name: "([a-z-]+)",\s*config: \{[^}]*\},\s*description: "(?:[^"\\]|\\.)*",\s*promptAppend: (\w+_CATEGORY_PROMPT_APPEND)/g;
  for (const [, name, variable] of bundle.matchAll(definitions)) {
    const text = texts.get(variable!);
    if (text) prompts[name!] = text;
  }
  const missing = OMO_CATEGORIES.filter((name) => !prompts[name]);
  if (missing.length) throw new Error(`could not read OhMyOpenCode's prompts for ${missing.join(", ")} from ${pluginFile}`);
  return prompts;
}

/** Its built-in category names. */
export const OMO_CATEGORIES = ["visual-engineering", "artistry", "ultrabrain", "deep", "quick", "unspecified-low", "unspecified-high", "writing"] as const;
