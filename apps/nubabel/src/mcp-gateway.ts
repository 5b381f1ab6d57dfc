import type { McpInvokeRequest, McpInvokeResponse, McpListRequest, McpListResponse } from "@nubabel/contracts";
import { NubabelError } from "./errors.js";

/** Who is asking: always taken from the verified capability token, never from the request body. */
export interface McpCaller {
  organizationId: string;
  sessionId: string;
  /** The request id, for log lines. */
  requestId?: string;
}

/**
 * Runs an organization's MCP tools for the agent. The HTTP callbacks authenticate and bind the
 * organization, then hand over to this; the MCP module (`src/mcp/`) provides the real one.
 * Implementations throw `McpConnectionNotFound` for a provider the organization has not connected.
 */
export interface McpGateway {
  invoke(caller: McpCaller, request: McpInvokeRequest): Promise<McpInvokeResponse>;
  list(caller: McpCaller, request: McpListRequest): Promise<McpListResponse>;
}

/** The organization has no (enabled) connection for the provider. Answered as 404 `connection_not_found`. */
export class McpConnectionNotFound extends NubabelError<{ provider: string }> {
  override readonly name = "McpConnectionNotFound";
  constructor(provider: string) {
    super(`no MCP connection for provider "${provider}" in this organization`, { provider });
  }
}

/** Until MCP connections exist: nothing is connected, so every invoke is "no such connection". */
export const noConnections: McpGateway = {
  async invoke(_caller, request) {
    throw new McpConnectionNotFound(request.provider);
  },
  async list() {
    return { providers: [] };
  },
};
