import { NubabelError } from "../errors.js";

/**
 * Typed errors of the MCP domain. Messages are safe to show to an organization and to the agent:
 * none includes a credential value. The HTTP error table maps `name` to a status (suggested in
 * each TSDoc).
 */

/** The operator's catalog is malformed (start-up failure). `fields` are the offending paths. */
export class CatalogInvalidError extends NubabelError<{ source: string; fields: string[] }> {
  override readonly name = "CatalogInvalidError" as const;
}

/** A connection definition an organization sent is refused (400); `field` names what is wrong. */
export class McpConnectionInvalidError extends NubabelError<{ field: string; reason: string }> {
  override readonly name = "McpConnectionInvalidError" as const;
  constructor(data: { field: string; reason: string }) {
    super(`${data.field}: ${data.reason}`, data);
  }
}

/** No enabled connection of the organization answers to this provider (404). */
export class McpProviderNotFoundError extends NubabelError<{ provider: string; available: string[] }> {
  override readonly name = "McpProviderNotFoundError" as const;
  constructor(data: { provider: string; available: string[] }) {
    super(
      `no enabled MCP connection for provider "${data.provider}"; ` +
        (data.available.length ? `available: ${data.available.join(", ")}` : "the organization has none"),
      data,
    );
  }
}

/** The server has no tool of that name (404); `available` lists the ones it has. */
export class McpToolNotFoundError extends NubabelError<{ provider: string; tool: string; available: string[] }> {
  override readonly name = "McpToolNotFoundError" as const;
  constructor(data: { provider: string; tool: string; available: string[] }) {
    super(`provider "${data.provider}" has no tool "${data.tool}"; available: ${data.available.join(", ") || "(none)"}`, data);
  }
}

/** The server did not answer in time (504). The pool has dropped the client; the next call reconnects. */
export class McpTimeoutError extends NubabelError<{ provider: string; connectionId: string; operation: string; timeoutMs: number }> {
  override readonly name = "McpTimeoutError" as const;
  constructor(data: { provider: string; connectionId: string; operation: string; timeoutMs: number }) {
    super(
      `MCP server for "${data.provider}" did not answer ${data.operation} within ${data.timeoutMs} ms; ` +
        `the connection was reset and the next call starts a fresh one`,
      data,
    );
  }
}

/**
 * The server could not be started or reached, or went away mid-call (502). The pool has dropped the
 * client; the next call reconnects (a crashed stdio server is restarted then).
 */
export class McpConnectionError extends NubabelError<{ provider: string; connectionId: string; reason: string }> {
  override readonly name = "McpConnectionError" as const;
  constructor(data: { provider: string; connectionId: string; reason: string }) {
    super(`MCP server for "${data.provider}" is unavailable: ${data.reason}`, data);
  }
}

/** A custom server's address is one the URL policy refuses (loopback, private, link-local…). */
export class McpUrlRefusedError extends NubabelError<{ host: string; address: string; reason: string }> {
  override readonly name = "McpUrlRefusedError" as const;
  constructor(data: { host: string; address: string; reason: string }) {
    super(`refusing to connect to ${data.host} (${data.address}): ${data.reason}`, data);
  }
}

/** The organization already has a connection of this name (409); names address connections. */
export class McpConnectionNameTaken extends NubabelError<{ name: string }> {
  override readonly name = "McpConnectionNameTaken" as const;
  constructor(data: { name: string }) {
    super(`a connection named "${data.name}" already exists in this organization; pick another name`, data);
  }
}

/** No connection of this id in the caller's organization (404), whoever else may own it. */
export class ConnectionNotFound extends NubabelError<{ connectionId: string }> {
  override readonly name = "ConnectionNotFound" as const;
  constructor(connectionId: string) {
    super(`no MCP connection ${connectionId} in this organization`, { connectionId });
  }
}
