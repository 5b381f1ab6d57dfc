import { z } from "zod";
import { McpToolInfo } from "./callbacks.js";
import { schema as idSchema, Prefix } from "./ids.js";
import { line } from "./text.js";

/**
 * `/api/connections`: an organization's MCP connections, managed with its API key. Credentials go
 * in as `{NAME: "value"}` and never come back: responses show their names only.
 */

export const ConnectionId = idSchema(Prefix.connection);
export type ConnectionId = z.infer<typeof ConnectionId>;

/** Credentials in the clear, on the way in only: environment variables (stdio) or headers (HTTP). */
export const ConnectionCredentials = z.record(line(128), z.string().max(8192));
export type ConnectionCredentials = z.infer<typeof ConnectionCredentials>;

/**
 * How to reach a `custom` server: `{"type": "http", "url": "https://…"}`. Loosely typed here so
 * that a stdio transport or a private URL is refused by Nubabel with the reason, not a shape error.
 */
export const ConnectionTransportInput = z.looseObject({ type: line(20), url: line(2048).optional() });
export type ConnectionTransportInput = z.infer<typeof ConnectionTransportInput>;

/** `POST /api/connections` body. `name` defaults to the provider; `enabled` to true. */
export const CreateConnectionRequest = z.strictObject({
  provider: line(64),
  name: line(100).optional(),
  credentials: ConnectionCredentials.default({}),
  enabled: z.boolean().optional(),
  transport: ConnectionTransportInput.optional(),
});
export type CreateConnectionRequest = z.infer<typeof CreateConnectionRequest>;

/** `PATCH /api/connections/:id` body. `credentials`, when given, replace the stored ones whole. */
export const UpdateConnectionRequest = z.strictObject({
  name: line(100).optional(),
  credentials: ConnectionCredentials.optional(),
  enabled: z.boolean().optional(),
  transport: ConnectionTransportInput.optional(),
});
export type UpdateConnectionRequest = z.infer<typeof UpdateConnectionRequest>;

/** A connection as every response shows it: credential names, never values. */
export const Connection = z.object({
  id: ConnectionId,
  provider: z.string(),
  name: z.string(),
  enabled: z.boolean(),
  transport: z.object({ type: z.literal("http"), url: z.string() }).optional(),
  credentials: z.array(z.string()),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Connection = z.infer<typeof Connection>;

/** `GET /api/connections`. */
export const ConnectionList = z.object({ connections: z.array(Connection) });
export type ConnectionList = z.infer<typeof ConnectionList>;

/** `GET /api/connections/:id/tools`: asks the server now (a "test connection"), disabled or not. */
export const ConnectionTools = z.object({ id: ConnectionId, tools: z.array(McpToolInfo) });
export type ConnectionTools = z.infer<typeof ConnectionTools>;

/** `DELETE /api/connections/:id`. */
export const ConnectionDeleted = z.object({ id: ConnectionId, deleted: z.literal(true) });
export type ConnectionDeleted = z.infer<typeof ConnectionDeleted>;
