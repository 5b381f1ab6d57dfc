import { checkUrl, type Resolve } from "@nubabel/net-policy";
import { CUSTOM, HttpTransport, type Catalog } from "./catalog.js";
import { McpConnectionInvalidError } from "./errors.js";

/** What an organization sends to create or replace a connection (after the route's schema). */
export interface ConnectionInput {
  provider: string;
  name?: string;
  credentials: Record<string, string>;
  transport?: unknown;
}

/** A definition the gateway can run: provider known, credentials complete, custom URL allowed. */
export interface ValidConnection {
  provider: string;
  name: string;
  credentials: Record<string, string>;
  transport?: HttpTransport;
}

// Headers the MCP transport sets itself; letting an organization override them breaks the protocol
// or the request framing.
const RESERVED_HEADERS = new Set([
  "host", "content-length", "content-type", "accept", "connection", "transfer-encoding", "upgrade",
  "te", "trailer", "keep-alive", "mcp-session-id", "mcp-protocol-version", "last-event-id",
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;

/**
 * Checks a connection definition against the catalog and the URL policy; throws
 * `McpConnectionInvalidError` naming the field (400). An organization can only pick stdio servers
 * from the catalog (a command would run on Nubabel's host): only `custom` may carry a transport,
 * and it must be HTTP to an address the policy accepts.
 */
export async function validateConnection(
  catalog: Catalog,
  input: ConnectionInput,
  policy: { allowPrivateUrls: boolean; resolve?: Resolve },
): Promise<ValidConnection> {
  const invalid = (field: string, reason: string) => new McpConnectionInvalidError({ field, reason });
  const name = input.name ?? input.provider;
  if (!/^[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}$/.test(name)) {
    throw invalid("name", "must be 1-100 letters, digits, spaces, _ . or -, starting with a letter or digit");
  }
  for (const [key, value] of Object.entries(input.credentials)) {
    if (typeof value !== "string" || value === "") throw invalid(`credentials.${key}`, "must be a non-empty string");
    if (/[\r\n\0]/.test(value)) throw invalid(`credentials.${key}`, "must not contain line breaks or NUL");
  }
  if (input.provider === CUSTOM) {
    if (input.transport === undefined) throw invalid("transport", 'is required for "custom" connections: {"type":"http","url":"…"}');
    if ((input.transport as { type?: unknown })?.type === "stdio") {
      throw invalid("transport.type", "custom connections are HTTP only: an organization cannot run a command on Nubabel's host");
    }
    const parsed = HttpTransport.safeParse(input.transport);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw invalid(["transport", ...issue.path].join("."), issue.message);
    }
    const check = await checkUrl(parsed.data.url, { allowPrivate: policy.allowPrivateUrls, resolve: policy.resolve });
    if (!check.ok) throw invalid("transport.url", check.reason);
    for (const header of Object.keys(input.credentials)) {
      if (!HEADER_NAME.test(header)) throw invalid(`credentials.${header}`, "is not a valid HTTP header name");
      if (RESERVED_HEADERS.has(header.toLowerCase())) throw invalid(`credentials.${header}`, "is a header the MCP transport sets itself");
    }
    return { provider: CUSTOM, name, credentials: { ...input.credentials }, transport: parsed.data };
  }
  const entry = catalog.providers[input.provider];
  if (!entry) {
    throw invalid("provider", `unknown provider "${input.provider}"; known: ${[...Object.keys(catalog.providers), CUSTOM].join(", ")}`);
  }
  if (input.transport !== undefined) {
    throw invalid("transport", `only "custom" connections may give a transport; "${input.provider}" is reached as the catalog says`);
  }
  for (const required of entry.credentials) {
    if (!(required in input.credentials)) throw invalid(`credentials.${required}`, `is required by provider "${input.provider}"`);
  }
  for (const key of Object.keys(input.credentials)) {
    if (!entry.credentials.includes(key)) {
      throw invalid(`credentials.${key}`, `is not a credential of "${input.provider}" (expected: ${entry.credentials.join(", ") || "none"})`);
    }
  }
  return { provider: input.provider, name, credentials: { ...input.credentials } };
}
