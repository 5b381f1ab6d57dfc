import { z } from "zod";
import { ApprovalId, RunId, SessionId } from "./ids.js";
import { finiteNumber, free, json, line } from "./text.js";

/** The engine's own tools a policy may put under approval (`write` and `edit` are told apart). */
export const ENGINE_TOOLS = ["bash", "edit", "write", "webfetch"] as const;
export type EngineTool = (typeof ENGINE_TOOLS)[number];

/** A `*`/`?` glob over one name: letters, digits, spaces and `_ . -` (connection names may hold spaces). */
const GLOB_PART = /^[A-Za-z0-9 _.*?-]{1,100}$/;

/**
 * What a rule covers: an MCP `provider/tool` glob (`notion/*create*`, `github/*`) or one of the
 * engine's tools (`bash`, `edit`, `write`, `webfetch`).
 */
export const ToolMatch = z
  .string()
  .min(1)
  .max(201)
  .refine((s) => {
    const [provider, tool, extra] = s.split("/");
    if (tool === undefined) return (ENGINE_TOOLS as readonly string[]).includes(s);
    return extra === undefined && GLOB_PART.test(provider!) && GLOB_PART.test(tool);
  }, `must be an MCP "provider/tool" glob (letters, digits, spaces, _ . - * ?) or one of ${ENGINE_TOOLS.join(", ")}`);
export type ToolMatch = z.infer<typeof ToolMatch>;

/**
 * One `*`/`?` glob part of a {@link ToolMatch} as an anchored, case-insensitive regular expression:
 * `*` is any run of characters, `?` one character, everything else literal. Nubabel (which rule
 * decides) and the sidecar (which calls to ask about) both match with this one function, so they
 * cannot disagree; a rule written `Notion/*` holds however the agent spells the connection's name.
 */
export function toolGlob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\-]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** A Slack user id (`U…` or `W…`). */
export const SlackUserId = z.string().regex(/^[UW][A-Z0-9]{2,30}$/, "must be a Slack user id (U… or W…)");

/**
 * Who may decide: `requester` (the person who asked the run; the default), `workspace` (anyone in
 * the organization's linked Slack workspace) or a list of Slack user ids. Through the API, the
 * organization's key decides whatever the rule says.
 */
export const Approvers = z.union([z.literal("requester"), z.literal("workspace"), z.array(SlackUserId).min(1).max(100)], {
  error: 'must be "requester", "workspace" or a list of Slack user ids (U… or W…)',
});
export type Approvers = z.infer<typeof Approvers>;

export const ApprovalRule = z.strictObject({ match: ToolMatch, approvers: Approvers.optional() });
export type ApprovalRule = z.infer<typeof ApprovalRule>;

/** Seconds an approval waits for a person before it counts as denied. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 600;

/** `PUT /api/policy` body. The default policy (no rules) asks for nothing. */
export const ApprovalPolicy = z.strictObject({
  approvals: z.array(ApprovalRule).max(100),
  timeoutSeconds: finiteNumber().int().min(1).max(86_400).optional(),
});
export type ApprovalPolicy = z.infer<typeof ApprovalPolicy>;

/** `GET /api/policy` and the answer of `PUT`: the policy in force, its defaults filled in. */
export const ApiPolicy = z.object({
  approvals: z.array(ApprovalRule),
  timeoutSeconds: z.number().int(),
  /** 0 for the default policy, then 1, 2, … one per `PUT`; every version is kept. */
  version: z.number().int().nonnegative(),
  updatedAt: z.iso.datetime().nullable(),
});
export type ApiPolicy = z.infer<typeof ApiPolicy>;

export const ApprovalStatus = z.enum(["pending", "approved", "denied", "expired"]);
export type ApprovalStatus = z.infer<typeof ApprovalStatus>;

/** One tool call waiting for (or decided by) a person. */
export const Approval = z.object({
  id: ApprovalId,
  runId: RunId,
  sessionId: SessionId,
  /** The engine tool (`bash`) or the MCP tool's name. */
  tool: z.string(),
  /** The MCP connection the agent named; absent for an engine tool. */
  provider: z.string().optional(),
  /** The call's arguments, credentials and secrets redacted, long values cut. */
  arguments: z.record(z.string(), z.unknown()),
  status: ApprovalStatus,
  requestedAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  /** `slack:<user id>`, `api` (the organization's key), `timeout`, or `run` (the run ended first). */
  decidedBy: z.string().optional(),
  decidedAt: z.iso.datetime().optional(),
  reason: z.string().optional(),
});
export type Approval = z.infer<typeof Approval>;

/** `POST /api/runs/:runId/approvals/:approvalId` body. */
export const ApprovalDecision = z.strictObject({
  decision: z.enum(["approve", "deny"]),
  reason: free(1_000).optional(),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

export const ApprovalParams = z.object({ runId: RunId, approvalId: ApprovalId });
export type ApprovalParams = z.infer<typeof ApprovalParams>;

/**
 * What the sidecar must ask about for one run (`DelegateRequest.approvals`): the policy's matches,
 * MCP provider names already widened to every name the agent could use for the same connection.
 */
export const ApprovalRequirements = z.object({
  match: z.array(ToolMatch).max(1_000),
  /** How long the sidecar holds an unanswered ask before refusing it itself (Nubabel's timeout plus a margin). */
  timeoutMs: z.number().int().min(1_000).max(90_000_000),
});
export type ApprovalRequirements = z.infer<typeof ApprovalRequirements>;

/** The sidecar's event for a tool call its run's requirements match: Nubabel turns it into an `Approval`. */
export const PermissionAsked = z.object({
  /** The engine's permission request id, which Nubabel's decision answers. */
  requestId: line(200),
  tool: line(200),
  provider: line(200).optional(),
  arguments: z.record(z.string(), json()),
  callId: line(200).optional(),
});
export type PermissionAsked = z.infer<typeof PermissionAsked>;

/** `POST /runs/:runId/approvals/:requestId` of the sidecar: Nubabel's decision for the engine. */
export const PermissionReply = z.strictObject({
  reply: z.enum(["once", "reject"]),
  /** For a rejection: what the agent reads (who denied it and why). */
  message: free(2_000).optional(),
});
export type PermissionReply = z.infer<typeof PermissionReply>;

export const PermissionReplyParams = z.object({ runId: RunId, requestId: line(200) });
export type PermissionReplyParams = z.infer<typeof PermissionReplyParams>;

/** The answer: `replied` is false when the engine no longer waits on that request (the run ended). */
export const PermissionReplyResult = z.object({ replied: z.boolean() });
export type PermissionReplyResult = z.infer<typeof PermissionReplyResult>;
