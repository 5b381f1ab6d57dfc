import type { Json, RecordedRequest, Reply } from "./types.js";

/** The model name `npm run model` suggests; it answers any name alike. */
export const ECHO_MODEL_ID = "echo";

/** Longest quote of a message in a reply, in characters. */
const QUOTE_MAX = 200;

/**
 * What `npm run model` answers each agent turn with. No language model runs: the reply quotes the
 * latest user message and counts the user messages the conversation holds, so a follow-up shows
 * that it resumed its session with the earlier turns in it. That is enough to try the whole path
 * (progress, answers, follow-ups, the console) on a machine without a model or a network.
 */
export function echoReply(req: RecordedRequest): Reply {
  const said = req.messages.filter((m: Json) => m?.role === "user").map(textOf);
  const count = said.length;
  const earlier = count > 1 ? `; the first was ${quote(said[0]!)}` : "";
  return {
    text: [
      `You said ${quote(said.at(-1) ?? "")}.`,
      `This conversation holds ${count} message${count === 1 ? "" : "s"} from you${earlier}.`,
      "(This is the stand-in model of `npm run model`: it only repeats what it is sent.)",
    ].join("\n\n"),
  };
}

/** A chat message's text: OpenAI-compatible clients send a string or a list of parts. */
function textOf(message: Json): string {
  const content: unknown = message?.content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((part: Json) => part?.type === "text" && typeof part.text === "string")
    .map((part: Json) => part.text as string)
    .join("\n");
}

function quote(text: string): string {
  const line = text.replace(/\s+/g, " ").trim();
  return `"${line.length > QUOTE_MAX ? `${line.slice(0, QUOTE_MAX - 1)}…` : line}"`;
}
