/**
 * Text crossing between Slack and the agent: Slack's escaped `mrkdwn` in, the model's Markdown out.
 */

/**
 * The prompt a person meant: the bot's own mention removed (it says who is asked, not what), Slack's
 * link and mention markup turned into plain text, and its three HTML escapes undone.
 */
export function promptFromSlack(text: string, botUserId: string | undefined): string {
  let out = text;
  if (botUserId) out = out.replace(new RegExp(`<@${botUserId}(?:\\|[^>]*)?>[:,]?`, "g"), " ");
  out = out
    // Keep the URL: the agent may need to open it. Slack labels a typed `x.com` with itself.
    .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, (_m, url: string, label: string) =>
      url.replace(/^(?:https?:\/\/|mailto:)/, "").replace(/\/$/, "") === label ? url : `${label} (${url})`,
    )
    .replace(/<((?:https?|mailto):[^>]+)>/g, "$1")
    .replace(/<@([A-Z0-9]+)(?:\|([^>]+))?>/g, (_m, id: string, name?: string) => `@${name ?? id}`)
    .replace(/<#[A-Z0-9]+\|([^>]+)>/g, "#$1")
    .replace(/<!(here|channel|everyone)(?:\|[^>]*)?>/g, "@$1");
  return unescapeSlack(out).replace(/[ \t]+/g, " ").trim();
}

/** True when the message asks the bot to stop the running turn ("stop", "Stop!", "stop please"). */
export function isStopCommand(prompt: string): boolean {
  return /^(stop|cancel|abort)(\s+(it|please|now))?[.!]*$/i.test(prompt.trim());
}

/** Slack escapes only these three characters in message text (and requires them escaped). */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function unescapeSlack(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/**
 * Converts the agent's Markdown to Slack mrkdwn: bold, italics, strikes, links, headings and
 * bullets. Code (fenced and inline) is left exactly as written, only escaped.
 */
export function markdownToMrkdwn(markdown: string): string {
  const parts = markdown.split(/(```[\s\S]*?(?:```|$))/g);
  return parts
    .map((part, i) => (i % 2 === 1 ? escapeSlack(part.replace(/^```[\w+-]*\n/, "```\n")) : convertProse(part)))
    .join("");
}

function convertProse(text: string): string {
  // Inline code is set aside first so nothing inside it is restyled.
  const codes: string[] = [];
  let out = text.replace(/`[^`\n]+`/g, (m) => `\uE000${codes.push(m) - 1}\uE000`);
  out = escapeSlack(out);
  out = out
    .replace(/!?\[([^\]]+)\]\((https?:\/\/[^)\s]+)\)/g, (_m, label: string, url: string) => `<${url}|${label}>`)
    .replace(/^(\s*)[-*+]\s+/gm, "$1• ")
    .replace(/(^|[^*])\*([^*\n]+)\*(?!\*)/g, "$1_$2_")
    .replace(/\*\*([^*\n]+)\*\*/g, "*$1*")
    .replace(/__([^_\n]+)__/g, "*$1*")
    .replace(/~~([^~\n]+)~~/g, "~$1~")
    // Last, so the heading's own asterisks are not read as italics above.
    .replace(/^#{1,6}\s+(.+?)\s*#*$/gm, (_m, title: string) => `*${title.replace(/\*/g, "")}*`);
  return out.replace(/\uE000(\d+)\uE000/g, (_m, n: string) => escapeSlack(codes[Number(n)] ?? ""));
}

/**
 * Splits text into chunks of at most `limit` characters, at paragraph, then line, then word
 * boundaries. A code block cut in two is closed at the end of one chunk and reopened in the next,
 * so each message renders on its own.
 */
export function splitMessage(text: string, limit = 3_500): string[] {
  const chunks: string[] = [];
  let rest = text.trim();
  let reopen = false;
  while (rest.length > 0) {
    const room = limit - (reopen ? 4 : 0) - 4;
    if (rest.length <= room + 4) {
      chunks.push((reopen ? "```\n" : "") + rest);
      break;
    }
    const cut = cutPoint(rest, room);
    let chunk: string = (reopen ? "```\n" : "") + rest.slice(0, cut).trimEnd();
    rest = rest.slice(cut).trimStart();
    const open: boolean = (chunk.match(/```/g)?.length ?? 0) % 2 === 1;
    if (open) chunk += "\n```";
    reopen = open;
    chunks.push(chunk);
  }
  return chunks.length > 0 ? chunks : [""];
}

function cutPoint(text: string, room: number): number {
  const window = text.slice(0, room);
  for (const sep of ["\n\n", "\n", " "]) {
    const at = window.lastIndexOf(sep);
    // A boundary in the first half would make tiny messages; a hard cut is better then.
    if (at > room / 2) return at + sep.length;
  }
  return room;
}
