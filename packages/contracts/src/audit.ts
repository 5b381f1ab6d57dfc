import { z } from "zod";
import { RunId, SessionId } from "./ids.js";
import { queryInt } from "./text.js";

/** What an audit entry records. */
export const AuditKind = z.enum(["tool_call", "approval", "connection", "key_rotation", "api_key", "policy", "budget", "webhook"]);
export type AuditKind = z.infer<typeof AuditKind>;

/**
 * One entry of an organization's audit trail (`GET /api/audit`). It names who did what to which
 * tool and how it went; it never holds credentials or a call's arguments.
 */
export const AuditEntry = z.object({
  id: z.string(),
  at: z.iso.datetime(),
  kind: AuditKind,
  /** `slack:<user id>`, `api`, `agent` (a tool call), `operator` (the CLI) or `timeout`. */
  actor: z.string(),
  /** What happened: `invoke`, `approve`, `deny`, `expire`, `create`, `update`, `delete`, `rotate`, `revoke`. */
  action: z.string(),
  sessionId: SessionId.optional(),
  runId: RunId.optional(),
  tool: z.string().optional(),
  provider: z.string().optional(),
  /** The connection a tool call or a change concerned. */
  connectionId: z.string().optional(),
  /** For a decision: `approved`, `denied`, `expired`. */
  decision: z.string().optional(),
  /** How it went: `ok`, `error` (a tool call), or a decision's outcome. */
  status: z.string().optional(),
  durationMs: z.number().int().nonnegative().optional(),
  /** A short reason or error message, never arguments or credentials. */
  detail: z.string().optional(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** `GET /api/audit` query: all optional; `from`/`to` are ISO times, `cursor` the previous page's `nextCursor`. */
export const AuditQuery = z.strictObject({
  sessionId: SessionId.optional(),
  runId: RunId.optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  cursor: z.string().max(200).optional(),
  limit: queryInt(1, 500).optional(),
});
export type AuditQuery = z.infer<typeof AuditQuery>;

/** `GET /api/audit`: entries oldest first; `nextCursor` is set while more follow. */
export const AuditPage = z.object({ entries: z.array(AuditEntry), nextCursor: z.string().optional() });
export type AuditPage = z.infer<typeof AuditPage>;
