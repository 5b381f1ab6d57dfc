/** Keys whose values are credentials or secrets, whatever the tool calls them. */
const SECRET_KEY = /token|secret|passw|pwd|key|authori[sz]|^auth$|cookie|credential|session|signature/i;
const STRING_LIMIT = 500;
const DEPTH_LIMIT = 6;
const ITEMS_LIMIT = 50;

/**
 * A tool call's arguments as a person may see them: values under keys that look secret replaced
 * by "[redacted]", strings cut to 500 characters, nesting and the number of keys or items bounded.
 */
export function redactArguments(args: unknown): Record<string, unknown> {
  const value = redact(args, 0);
  return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : { value };
}

function redact(value: unknown, depth: number): unknown {
  if (typeof value === "string") return value.length > STRING_LIMIT ? `${value.slice(0, STRING_LIMIT)}… (${value.length} characters)` : value;
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value !== "object") return value === undefined ? null : String(value);
  if (depth >= DEPTH_LIMIT) return "[nested too deep]";
  if (Array.isArray(value)) {
    const items = value.slice(0, ITEMS_LIMIT).map((item) => redact(item, depth + 1));
    return value.length > ITEMS_LIMIT ? [...items, `… ${value.length - ITEMS_LIMIT} more`] : items;
  }
  const entries = Object.entries(value as Record<string, unknown>);
  const out: Record<string, unknown> = {};
  for (const [key, inner] of entries.slice(0, ITEMS_LIMIT)) out[key] = SECRET_KEY.test(key) ? "[redacted]" : redact(inner, depth + 1);
  if (entries.length > ITEMS_LIMIT) out["…"] = `${entries.length - ITEMS_LIMIT} more keys`;
  return out;
}
