import { z } from "zod";
import { OpencodeSessionId, OrganizationId, SessionId } from "./ids.js";

/** Where the sidecar reports back to Nubabel. Every URL must share `NUBABEL_CALLBACK_URL`'s origin. */
export const Callbacks = z.object({
  sessionUpdate: z.url(),
  mcpInvoke: z.url(),
  progress: z.url(),
  /** Lists the organization's MCP tools for the agent (added after the seed; optional for old callers). */
  mcpList: z.url().optional(),
});
export type Callbacks = z.infer<typeof Callbacks>;

export const Prompt = z.string().min(1, "must not be empty").max(100_000);

/** Skill and category names: lower-case words joined by dashes. */
export const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, "must be lower-case letters, digits and dashes");

/**
 * `POST /delegate`: start a new OpenCode session for a Nubabel session and run the prompt.
 * `callbackToken` is opaque to the sidecar: it is the capability token Nubabel issued, sent back
 * as `Authorization: Bearer` on every callback of this delegation.
 */
export const DelegateRequest = z.object({
  prompt: Prompt,
  session_id: SessionId,
  organizationId: OrganizationId,
  category: Name.optional(),
  load_skills: z.array(Name).max(20).optional(),
  userId: z.string().min(1).max(200).optional(),
  callbacks: Callbacks.optional(),
  callbackToken: z.string().min(1).max(4096).optional(),
});
export type DelegateRequest = z.infer<typeof DelegateRequest>;

/**
 * `POST /sessions/:opencodeSessionId/prompt`: a follow-up. The binding fields are optional; when
 * present they rebind the session (so a follow-up still streams after a sidecar restart).
 */
export const PromptRequest = z.object({
  prompt: Prompt,
  session_id: SessionId.optional(),
  organizationId: OrganizationId.optional(),
  userId: z.string().min(1).max(200).optional(),
  callbacks: Callbacks.optional(),
  callbackToken: z.string().min(1).max(4096).optional(),
});
export type PromptRequest = z.infer<typeof PromptRequest>;

export const RunStatus = z.enum(["success", "error", "aborted"]);
export type RunStatus = z.infer<typeof RunStatus>;

/** The answer of `/delegate` and `/sessions/:id/prompt` (and, with `nubabelSessionId`, of Nubabel's `/api/delegate`). */
export const DelegateResponse = z.object({
  output: z.string(),
  status: RunStatus,
  /** Set when `status` is not `success`: why, in words a person can act on. */
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  metadata: z.object({
    model: z.string(),
    opencodeSessionId: OpencodeSessionId,
    nubabelSessionId: SessionId.optional(),
    category: z.string().optional(),
    durationMs: z.number().int().nonnegative().optional(),
  }),
});
export type DelegateResponse = z.infer<typeof DelegateResponse>;

export const SessionParams = z.object({ opencodeSessionId: OpencodeSessionId });
export type SessionParams = z.infer<typeof SessionParams>;

/** `POST /sessions/:id/abort`: `aborted` is false when nothing was running. */
export const AbortResponse = z.object({
  opencodeSessionId: OpencodeSessionId,
  aborted: z.boolean(),
});
export type AbortResponse = z.infer<typeof AbortResponse>;

export const EngineState = z.enum(["starting", "running", "restarting", "stopped", "attached"]);
export type EngineState = z.infer<typeof EngineState>;

/** `GET /health` of the sidecar: 200 when healthy, 503 with `degraded` while the engine is down. */
export const SidecarHealth = z.object({
  status: z.enum(["healthy", "degraded"]),
  opencode: z.object({
    enabled: z.boolean(),
    state: EngineState,
    version: z.string(),
    /** `provider/model` of the default model, or null when none is configured. */
    model: z.string().nullable(),
    restarts: z.number().int().nonnegative(),
  }),
  /** Present when something needs the operator's attention (e.g. no model configured). */
  problems: z.array(z.string()).optional(),
});
export type SidecarHealth = z.infer<typeof SidecarHealth>;
