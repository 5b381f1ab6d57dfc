const MIN_SECRET = 6;

/**
 * The strings to blank out for a connection: each credential value, and the token part of
 * `Scheme token` values (a server quoting a bad token usually quotes just the token). Short
 * values are skipped: blanking "on" or "1" everywhere would garble results and protect nothing.
 */
export function secretsOf(credentials: Record<string, string>): string[] {
  const out = new Set<string>();
  for (const value of Object.values(credentials)) {
    if (value.length >= MIN_SECRET) out.add(value);
    const token = /^\S+\s+(\S+)$/.exec(value)?.[1];
    if (token && token.length >= MIN_SECRET) out.add(token);
  }
  // Longest first, so a value is blanked whole before a token inside it is.
  return [...out].sort((a, b) => b.length - a.length);
}

export function redactText(text: string, secrets: string[]): string {
  return secrets.reduce((t, s) => (t.includes(s) ? t.split(s).join("[redacted]") : t), text);
}

/** A copy of `value` with every string redacted; objects and arrays walked, other values kept. */
export function redactDeep<T>(value: T, secrets: string[]): T {
  if (secrets.length === 0) return value;
  if (typeof value === "string") return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, secrets)])) as T;
  }
  return value;
}
