/**
 * Typed errors of the MCP domain. Messages are safe to show to an organization and to the agent:
 * none includes a credential value. The HTTP error table maps `name` to a status (suggested in
 * each TSDoc).
 */

/** The operator's catalog is malformed (start-up failure). `fields` are the offending paths. */
export class CatalogInvalidError extends Error {
  override readonly name = "CatalogInvalidError" as const;
  constructor(
    message: string,
    readonly data: { source: string; fields: string[] },
  ) {
    super(message);
  }
}

/** A connection definition an organization sent is refused (400); `field` names what is wrong. */
export class McpConnectionInvalidError extends Error {
  override readonly name = "McpConnectionInvalidError" as const;
  constructor(readonly data: { field: string; reason: string }) {
    super(`${data.field}: ${data.reason}`);
  }
}

/** No enabled connection of the organization answers to this provider (404). */
export class McpProviderNotFoundError extends Error {
  override readonly name = "McpProviderNotFoundError" as const;
  constructor(readonly data: { provider: string; available: string[] }) {
    super(
      `no enabled MCP connection for provider "${data.provider}"; ` +
        (data.available.length ? `available: ${data.available.join(", ")}` : "the organization has none"),
    );
  }
}

/** The server has no tool of that name (404); `available` lists the ones it has. */
export class McpToolNotFoundError extends Error {
  override readonly name = "McpToolNotFoundError" as const;
  constructor(readonly data: { provider: string; tool: string; available: string[] }) {
    super(`provider "${data.provider}" has no tool "${data.tool}"; available: ${data.available.join(", ") || "(none)"}`);
  }
}

/** The server did not answer in time (504). The pool has dropped the client; the next call reconnects. */
export class McpTimeoutError extends Error {
  override readonly name = "McpTimeoutError" as const;
  constructor(readonly data: { provider: string; connectionId: string; operation: string; timeoutMs: number }) {
    super(
      `MCP server for "${data.provider}" did not answer ${data.operation} within ${data.timeoutMs} ms; ` +
        `the connection was reset and the next call starts a fresh one`,
    );
  }
}

/**
 * The server could not be started or reached, or went away mid-call (502). The pool has dropped the
 * client; the next call reconnects (a crashed stdio server is restarted then).
 */
export class McpConnectionError extends Error {
  override readonly name = "McpConnectionError" as const;
  constructor(readonly data: { provider: string; connectionId: string; reason: string }) {
    super(`MCP server for "${data.provider}" is unavailable: ${data.reason}`);
  }
}

/** A custom server's address is one the URL policy refuses (loopback, private, link-local…). */
export class McpUrlRefusedError extends Error {
  override readonly name = "McpUrlRefusedError" as const;
  constructor(readonly data: { host: string; address: string; reason: string }) {
    super(`refusing to connect to ${data.host} (${data.address}): ${data.reason}`);
  }
}
