/**
 * The preferences of a `Prefer` header (RFC 7240), lower-cased, without their values:
 * `respond-async, wait=10` → {"respond-async", "wait"}. Several headers are joined by the server.
 */
export function preferences(header: string | string[] | undefined): Set<string> {
  const raw = Array.isArray(header) ? header.join(",") : (header ?? "");
  const names = raw
    .split(",")
    .map((pref) => pref.split(";")[0]!.split("=")[0]!.trim().toLowerCase())
    .filter(Boolean);
  return new Set(names);
}
