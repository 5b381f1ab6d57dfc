import { ENGINE_TOOLS, type EngineTool, toolGlob } from "@nubabel/contracts";

/** What a permission ask is about, as approval rules see it. */
export type GatedCall =
  /** An MCP tool through the bridge: matched as `provider/tool`. */
  | { kind: "mcp"; provider: string; tool: string }
  /** An engine tool: the rule names it could fall under (one when the tool is known). */
  | { kind: "engine"; names: EngineTool[] };

/** Engine tools that change files the way `edit` does. */
const EDIT_LIKE = new Set(["edit", "multiedit", "patch", "apply_patch"]);

/** The rule name of an engine tool (`multiedit` → `edit`), or undefined for a tool no rule names. */
export function engineToolName(tool: string): EngineTool | undefined {
  if (EDIT_LIKE.has(tool)) return "edit";
  return (ENGINE_TOOLS as readonly string[]).includes(tool) ? (tool as EngineTool) : undefined;
}

/**
 * The rule names a permission could stand for when its tool call cannot be found: the engine's
 * `edit` permission covers both its write and edit tools, so either rule catches it.
 */
export function namesOfPermission(permission: string): EngineTool[] {
  if (permission === "edit") return ["edit", "write"];
  const name = engineToolName(permission);
  return name ? [name] : [];
}

/** Whether one of the run's `match` entries covers the call. */
export function covers(match: readonly string[], call: GatedCall): boolean {
  return match.some((entry) => {
    const slash = entry.indexOf("/");
    if (call.kind === "engine") return slash < 0 && (call.names as string[]).includes(entry);
    return slash >= 0 && toolGlob(entry.slice(0, slash)).test(call.provider) && toolGlob(entry.slice(slash + 1)).test(call.tool);
  });
}
