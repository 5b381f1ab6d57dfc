/**
 * nubabel-bridge: runs inside the OpenCode engine's process and gives the agent the
 * organization's tools. It knows only the sidecar's loopback address and a per-process secret
 * (both from its environment); the organization, callbacks and capability token stay in the
 * sidecar, which looks them up by the session id. Only functions are exported: the engine drops a
 * plugin module that exports anything else.
 *
 * The engine calls it once per workspace (one per organization), with that `directory`. So it also
 * keeps the agent there: it names the workspace to the sandboxed shell, refuses file-tool paths
 * whose real path leaves it, and refuses URLs that reach private addresses (docs/sandbox.md).
 */
import { checkUrl, parseAllowList } from "@nubabel/net-policy";
import { type Plugin, tool } from "@opencode-ai/plugin";
import { mergePermissions, tightenAgents } from "../../src/engine/permissions.js";
import { instructionPaths, outsideReason, pathsOf, reservedReason } from "../../src/sandbox/confine.js";

const z = tool.schema;

/** What the engine's own environment holds that a shell command the agent runs must not see. */
const HIDDEN_FROM_SHELL = [
  "NUBABEL_BRIDGE_SECRET",
  "NUBABEL_BRIDGE_URL",
  "OPENCODE_SERVER_PASSWORD",
  "OPENCODE_CONFIG_CONTENT",
  "MODEL_API_KEY",
  "ANTHROPIC_API_KEY",
];

async function callSidecar(route: string, body: unknown, signal: AbortSignal): Promise<unknown> {
  const url = process.env.NUBABEL_BRIDGE_URL;
  const secret = process.env.NUBABEL_BRIDGE_SECRET;
  if (!url || !secret) throw new Error("Nubabel tools are not available in this engine (no bridge configured)");
  const timeoutMs = Number(process.env.NUBABEL_BRIDGE_TIMEOUT_MS ?? 65_000);
  const res = await fetch(`${url}${route}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
    body: JSON.stringify(body),
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new Error(data.error?.message ?? `the tool call failed (${res.status})`);
  return data;
}

/** The engine passes the tool call's id at run time, though the published type omits it. */
function callIdOf(ctx: object): string | undefined {
  return (ctx as { callID?: string }).callID;
}

/** The permissions the sidecar configured the engine with (absent in an engine it did not start). */
function sidecarPermission(): Record<string, unknown> | undefined {
  try {
    const permission = (JSON.parse(process.env.OPENCODE_CONFIG_CONTENT ?? "{}") as { permission?: unknown }).permission;
    return permission && typeof permission === "object" ? (permission as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function render(value: unknown): string {
  // The engine needs a string: a tool that answered nothing says so.
  if (value === undefined) return "(the tool returned nothing)";
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

/** Tools that change files: they may not touch the workspace's reserved folders. */
const WRITES = new Set(["write", "edit", "multiedit", "apply_patch", "patch"]);

/** Hosts and ranges the operator lets the agent's URL tools reach even though they are private. */

const allowedUrls = parseAllowList(process.env.NUBABEL_AGENT_ALLOW_URLS ?? "");

export const NubabelBridge: Plugin = async ({ directory }) => ({
  // Other plugins edit the permissions the sidecar gave the engine (OhMyOpenCode puts "allow"s for
  // webfetch and external_directory ahead of our "*", where our denials no longer win, and its
  // planner's own rules allow bash, edit and webfetch). This plugin is loaded last, so its hook
  // sees their edits: it puts ours back first and holds every agent to the same terms, so no rule
  // of theirs skips an approval or a denial.
  config: async (config) => {
    const ours = sidecarPermission();
    if (!ours) return;
    // The config holds our rules already (and the operator's agents, merged by the sidecar): those stay.
    config.permission = mergePermissions(ours, (config.permission ?? {}) as Record<string, unknown>, "ours-kept") as typeof config.permission;
    if (config.agent) config.agent = tightenAgents(ours, config.agent as Record<string, unknown>, "ours-kept") as typeof config.agent;
  },
  // Blanked rather than deleted: whether the shell's environment starts from ours or is merged
  // over it, an empty value wins.
  "shell.env": async (_input, output) => {
    for (const name of HIDDEN_FROM_SHELL) output.env[name] = "";
    // The sandbox wrapper binds this folder, and only this one, into the command's sandbox.
    output.env.NUBABEL_SANDBOX_WORKSPACE = directory;
  },
  // A throw here fails the tool call; the agent reads the message and the turn goes on.
  "tool.execute.before": async (input, output) => {
    const args = (output.args ?? {}) as Record<string, unknown>;
    const paths = pathsOf(input.tool, args);
    // A read also brings in the AGENTS.md-like files of the folders on its way.
    if (input.tool === "read" && paths[0]) paths.push(...(await instructionPaths(directory, paths[0])));
    for (const given of paths) {
      const why = (await outsideReason(directory, given)) ?? (WRITES.has(input.tool) ? await reservedReason(directory, given) : undefined);
      if (why) throw new Error(`${input.tool} refused: ${why}`);
    }
    // OhMyOpenCode's background tasks outlive an aborted delegation and report into it after it
    // ended: a delegation's subagents run in the foreground, inside its turn.
    if (input.tool === "task" && args.run_in_background === true) {
      throw new Error("task refused: background tasks are not available here; run it with run_in_background: false");
    }
    if (typeof args.url === "string") {
      const check = await checkUrl(args.url, { allowPrivate: false, allow: allowedUrls });
      if (!check.ok) throw new Error(`${input.tool} refused: ${args.url} ${check.reason}`);
    }
  },
  tool: {
    nubabel_mcp_list: tool({
      description:
        "List the tools your organization has connected to Nubabel (Notion, GitHub, Linear, other MCP servers), with each tool's input schema. Call this before nubabel_mcp_invoke.",
      args: {
        provider: z.string().optional().describe("Only this provider, e.g. notion"),
        tool: z.string().optional().describe("Only this tool, with its full input schema"),
      },
      async execute(args, ctx) {
        const filter = { ...(args.provider ? { provider: args.provider } : {}), ...(args.tool ? { tool: args.tool } : {}) };
        const data = await callSidecar("/internal/bridge/mcp/list", { sessionID: ctx.sessionID, callID: callIdOf(ctx), ...filter }, ctx.abort);
        // One line: the engine cuts tool output at 2,000 lines, which indented schemas reach quickly.
        return JSON.stringify(data);
      },
    }),
    nubabel_mcp_invoke: tool({
      description:
        "Run one of your organization's connected tools through Nubabel, with the organization's own credentials. Use nubabel_mcp_list to see providers, tool names and input schemas.",
      args: {
        provider: z.string().describe("Provider name as listed, e.g. notion"),
        toolName: z.string().describe("Tool name exactly as listed"),
        args: z.record(z.string(), z.unknown()).optional().describe("Arguments matching the tool's input schema"),
      },
      async execute(args, ctx) {
        // The sidecar answers at once unless the run's approvals cover this tool; then a person
        // decides. A refusal throws, and the agent reads its message as the tool's error.
        await ctx.ask({
          permission: "nubabel_mcp",
          patterns: [`${args.provider}/${args.toolName}`],
          always: [],
          metadata: { provider: args.provider, toolName: args.toolName, args: args.args ?? {} },
        });
        const data = (await callSidecar(
          "/internal/bridge/mcp/invoke",
          { sessionID: ctx.sessionID, callID: callIdOf(ctx), provider: args.provider, toolName: args.toolName, args: args.args ?? {} },
          ctx.abort,
        )) as { result?: unknown; isError?: boolean };
        if (data.isError) throw new Error(render(data.result));
        return render(data.result);
      },
    }),
  },
});
