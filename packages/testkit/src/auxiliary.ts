import type { Reply } from "./types.js";

/*
 * What opencode-ai 1.18.33 sends besides the agent turn (observed with a logging server, and read
 * off the engine's bundled source):
 * - Title generation, once per session, on the first user message, *before* the agent turn:
 *   agent "title", small model, `stream: true`, no `tools` key at all, system prompt
 *   "You are a title generator. …", then user messages "Generate a title for this conversation:\n"
 *   and the user's text. Skipped when the session was created with a title, for child sessions,
 *   and when the `title` agent is disabled in the config.
 * - Compaction ("You are a context summarization agent. …") on context overflow, and the
 *   "Summarize what was done in this conversation. …" summary agent: not seen in short tests,
 *   but they are side calls too and must not eat a scripted turn.
 * Detected by the system prompt's opening words, not by the missing tools: an agent whose tools
 * are all disabled also sends no tools, and that is a main turn.
 */
const MARKERS = [
  "You are a title generator",
  "You are a context summarization agent",
  "Summarize what was done in this conversation",
];

/** The fixed answer to auxiliary requests; it becomes the session title. */
export const auxiliaryReply: Reply = { text: "Test session", chunks: 1 };

/** True when a chat-completion body is one of the engine's side calls rather than an agent turn. */
export function isAuxiliary(body: unknown): boolean {
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages)) return false;
  return messages.some((m) => {
    if (m?.role !== "system") return false;
    const text = systemText(m.content).trimStart();
    return MARKERS.some((marker) => text.startsWith(marker));
  });
}

// OpenAI allows a system message's content to be a string or an array of text parts.
function systemText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join("");
  return "";
}
