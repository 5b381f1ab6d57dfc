import type { ProgressEvent } from "@nubabel/contracts";
import { ActionIds } from "./action-ids.js";
import { escapeSlack } from "./text.js";
import type { Blocks } from "./web-api.js";

/** What the progress message shows: the latest activity, not a log (the last state wins). */
export interface ProgressState {
  activity: string;
  /** Tools used so far, in first-use order, as people read them (`notion › search`). */
  tools: string[];
  /** The tail of the answer being written, if the agent has started writing. */
  draft?: string;
}

export const INITIAL: ProgressState = { activity: "Getting started…", tools: [] };

const DRAFT_TAIL = 300;
const MAX_TOOLS = 8;

/** The state after `event`; events that change nothing a person would see return `state` itself. */
export function reduce(state: ProgressState, event: ProgressEvent): ProgressState {
  switch (event.type) {
    case "connected":
      return state;
    case "status":
      if (event.data.status === "retry") {
        const attempt = event.data.attempt ? ` (attempt ${event.data.attempt})` : "";
        return { ...state, activity: `The model is busy, retrying${attempt}…` };
      }
      if (event.data.status === "idle") return state;
      return { ...state, activity: event.data.message ?? "Thinking…" };
    case "tool_started": {
      const name = toolName(event.data.tool, event.data.input);
      const tools = state.tools.includes(name) ? state.tools : [...state.tools, name];
      return { ...state, activity: `Using ${code(name)}…`, tools };
    }
    case "tool_completed":
      return { ...state, activity: "Thinking…" };
    case "tool_failed":
      return { ...state, activity: `${code(event.data.tool)} failed; working around it…` };
    case "message_updated": {
      const text = event.data.text.trim();
      if (!text) return state;
      const draft = text.length > DRAFT_TAIL ? `…${text.slice(-DRAFT_TAIL)}` : text;
      return { ...state, activity: "Writing the answer…", draft };
    }
    case "approval_requested":
      return { ...state, activity: `Waiting for approval of ${code(event.data.provider ? `${event.data.provider}/${event.data.tool}` : event.data.tool)}…` };
    case "approval_resolved":
      return { ...state, activity: event.data.status === "approved" ? "Approved; going on…" : "Not approved; working around it…" };
    case "permission_asked":
    case "session_idle":
    case "session_error":
    case "completed":
      // The turn's outcome comes from the delegation's answer, which replaces this message.
      return state;
  }
}

/** The progress message's text (Slack mrkdwn). */
export function render(state: ProgressState): string {
  const lines = [`:hourglass_flowing_sand: ${state.activity}`];
  if (state.tools.length > 0) {
    const shown = state.tools.slice(-MAX_TOOLS).map(code).join(", ");
    const more = state.tools.length > MAX_TOOLS ? ` and ${state.tools.length - MAX_TOOLS} earlier` : "";
    lines.push(`Tools used: ${shown}${more}`);
  }
  if (state.draft) lines.push(`> ${escapeSlack(state.draft).replace(/\n/g, "\n> ")}`);
  lines.push("_Say `stop` in this thread to cancel._");
  return lines.join("\n");
}

/** Slack's limit for a section's text. */
export const SECTION_LIMIT = 3_000;

/**
 * The progress message as Block Kit: its text (which stays the message's `text` too, for
 * notifications) and a Stop button beside it while the run goes on.
 */
export function progressBlocks(text: string, runId: string): Blocks {
  return [
    { type: "section", text: { type: "mrkdwn", text: text.length > SECTION_LIMIT ? `${text.slice(0, SECTION_LIMIT - 1)}…` : text } },
    {
      type: "actions",
      block_id: "run_controls",
      elements: [{ type: "button", action_id: ActionIds.stop, text: { type: "plain_text", text: "Stop" }, value: runId }],
    },
  ];
}

/** `nubabel_mcp_invoke` is one tool for every connected service; people care which service and tool. */
function toolName(tool: string, input: unknown): string {
  if (tool === "nubabel_mcp_invoke" && input && typeof input === "object") {
    const { provider, toolName } = input as { provider?: unknown; toolName?: unknown };
    if (typeof toolName === "string") return typeof provider === "string" ? `${provider} › ${toolName}` : toolName;
  }
  if (tool === "nubabel_mcp_list") return "list connected tools";
  return tool;
}

function code(name: string): string {
  return `\`${name.replace(/`/g, "'")}\``;
}
