import { z } from "zod";
import { OpencodeSessionId, OrganizationId } from "./ids.js";
import { line, record } from "./text.js";

export const SessionState = z.enum(["created", "running", "completed", "failed", "aborted"]);
export type SessionState = z.infer<typeof SessionState>;

/** `POST /api/sidecar/sessions/:sessionId/update` body (the seed's shape). */
export const SessionUpdate = z.object({
  state: z.object({
    opencodeSessionId: OpencodeSessionId,
    status: SessionState,
  }),
  metadata: record().optional(),
});
export type SessionUpdate = z.infer<typeof SessionUpdate>;

/**
 * `POST /api/sidecar/mcp/invoke` body. `organizationId` is informative only: the organization is the
 * one bound to the capability token, and a different one here is refused with 403.
 */
export const McpInvokeRequest = z.object({
  organizationId: OrganizationId.optional(),
  provider: line(100),
  toolName: line(200),
  args: record().default({}),
  /** The engine's id of the tool call: a call the policy covers runs only if this call was approved. */
  callId: line(200).optional(),
});
export type McpInvokeRequest = z.infer<typeof McpInvokeRequest>;

/** A tool's answer. `isError` marks a tool's own failure, which the agent reads like any result. */
export const McpInvokeResponse = z.object({
  result: z.unknown(),
  isError: z.boolean().optional(),
});
export type McpInvokeResponse = z.infer<typeof McpInvokeResponse>;

/** `POST /api/sidecar/mcp/list` body: lists what the bound organization may invoke. */
export const McpListRequest = z.object({
  organizationId: OrganizationId.optional(),
  provider: line(100).optional(),
  /** Only this tool (of `provider`, when given), always with its full input schema. */
  tool: line(200).optional(),
});
export type McpListRequest = z.infer<typeof McpListRequest>;

export const McpToolInfo = z.object({
  name: z.string(),
  description: z.string().optional(),
  inputSchema: z.unknown().optional(),
});
export type McpToolInfo = z.infer<typeof McpToolInfo>;

/**
 * The organization's connections and their tools. `error` is set (and `tools` empty) for a server
 * that could not be reached, so the agent can say why instead of seeing the connection vanish.
 */
export const McpListResponse = z.object({
  providers: z.array(
    z.object({ provider: z.string(), name: z.string(), tools: z.array(McpToolInfo), error: z.string().optional() }),
  ),
  /** Set when input schemas were left out to keep the list readable: how to get one. */
  note: z.string().optional(),
});
export type McpListResponse = z.infer<typeof McpListResponse>;

/** Plain acknowledgement of a callback. */
export const Ack = z.object({ success: z.literal(true) });
export type Ack = z.infer<typeof Ack>;
