import { z } from "zod";
import { OpencodeSessionId, OrganizationId, RunId, SessionId } from "./ids.js";
import { ApprovalRequirements } from "./approvals.js";
import { free, line } from "./text.js";

/** Where the sidecar reports back to Nubabel. Every URL must share `NUBABEL_CALLBACK_URL`'s origin. */
export const Callbacks = z.object({
  sessionUpdate: z.url(),
  mcpInvoke: z.url(),
  progress: z.url(),
  /** Lists the organization's MCP tools for the agent (added after the seed; optional for old callers). */
  mcpList: z.url().optional(),
  /**
   * Where a run's terminal `RunResult` goes, retried with the same `webhook-id` until acknowledged.
   * When set, the sidecar leaves the terminal progress event to Nubabel (which appends it once, with
   * the stored answer), and sends no `sessionUpdate`: the caller keeps its runs' state itself.
   */
  runResult: z.url().optional(),
});
export type Callbacks = z.infer<typeof Callbacks>;

/** What a person asks: free text, no control characters but tab and line breaks. */
export const Prompt = free(100_000).refine((text) => text.trim().length > 0, "must not be empty (or only spaces)");

/** Who asked, as the caller names them (a Slack user id, an email): one line. */
export const UserId = line(200);

/** The capability token Nubabel hands the sidecar, opaque to it. */
export const CallbackToken = line(4096);

/** Skill and category names: lower-case words joined by dashes. */
export const Name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9-]*$/, "must be lower-case letters, digits and dashes");

/**
 * The longest the run may take, in ms; the sidecar uses the shorter of this and its own
 * `RUN_TIMEOUT_MS`. Nubabel sends it because its callback token expires soon after.
 */
export const RunTimeout = z.number().int().min(1_000).max(24 * 3_600_000);

/** One message of a conversation as Nubabel recorded it, to seed a new OpenCode session with. */
export const HistoryMessage = z.object({
  role: z.enum(["user", "assistant"]),
  content: free(100_000),
});
export type HistoryMessage = z.infer<typeof HistoryMessage>;

/** The most history messages one `/delegate` may carry (Nubabel sends the latest ones). */
export const MAX_HISTORY_MESSAGES = 200;

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
  userId: UserId.optional(),
  callbacks: Callbacks.optional(),
  callbackToken: CallbackToken.optional(),
  /** Nubabel's run id; the sidecar's run takes it, and a repeat with the same id returns that run. */
  runId: RunId.optional(),
  timeoutMs: RunTimeout.optional(),
  /**
   * The conversation so far, oldest first, when the session moves here from a sidecar that is gone
   * or drained: the new OpenCode session gets it as context before the prompt runs.
   */
  history: z.array(HistoryMessage).max(MAX_HISTORY_MESSAGES).optional(),
  /** Tool calls of this run that wait for a person's decision (absent: none do). */
  approvals: ApprovalRequirements.optional(),
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
  userId: UserId.optional(),
  callbacks: Callbacks.optional(),
  callbackToken: CallbackToken.optional(),
  runId: RunId.optional(),
  timeoutMs: RunTimeout.optional(),
  approvals: ApprovalRequirements.optional(),
});
export type PromptRequest = z.infer<typeof PromptRequest>;

export const RunStatus = z.enum(["success", "error", "aborted"]);
export type RunStatus = z.infer<typeof RunStatus>;

/**
 * Tokens and cost of a run as the engine reports them, summed over the run's assistant messages
 * (its model steps), the steps of the subagents it started (child sessions, and theirs) included.
 */
export const Usage = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  reasoningTokens: z.number().int().nonnegative(),
  cacheReadTokens: z.number().int().nonnegative(),
  cacheWriteTokens: z.number().int().nonnegative(),
  cost: z.number().nonnegative(),
});
export type Usage = z.infer<typeof Usage>;

/** Why something failed, in words a person can act on. */
export const ErrorInfo = z.object({ code: z.string(), message: z.string() });
export type ErrorInfo = z.infer<typeof ErrorInfo>;

/**
 * The session's OpenCode session was gone (its sidecar stopped answering, or was drained), so this
 * run started a new one on another sidecar, seeded with the last `messages` of the conversation.
 */
export const ContextRestored = z.object({
  from: z.literal("history"),
  messages: z.number().int().nonnegative(),
  reason: z.string(),
});
export type ContextRestored = z.infer<typeof ContextRestored>;

/** The answer of `/delegate` and `/sessions/:id/prompt` (and, with `nubabelSessionId`, of Nubabel's `/api/delegate`). */
export const DelegateResponse = z.object({
  output: z.string(),
  status: RunStatus,
  /** Set when `status` is not `success`: why, in words a person can act on. */
  error: ErrorInfo.optional(),
  metadata: z.object({
    model: z.string(),
    opencodeSessionId: OpencodeSessionId,
    nubabelSessionId: SessionId.optional(),
    category: z.string().optional(),
    durationMs: z.number().int().nonnegative().optional(),
    /** The run this answer ends (added with durable runs). */
    runId: RunId.optional(),
    usage: Usage.optional(),
    /** Set when this run started a new OpenCode session seeded with the conversation's history. */
    contextRestored: ContextRestored.optional(),
  }),
});
export type DelegateResponse = z.infer<typeof DelegateResponse>;

/** A run's lifecycle, in both services: `queued → running → completed | failed | aborted`. */
export const RunState = z.enum(["queued", "running", "completed", "failed", "aborted"]);
export type RunState = z.infer<typeof RunState>;
export const TerminalRunState = z.enum(["completed", "failed", "aborted"]);
export type TerminalRunState = z.infer<typeof TerminalRunState>;

/** True once a run can change no more. */
export function isFinished(state: RunState): state is TerminalRunState {
  return state === "completed" || state === "failed" || state === "aborted";
}

/** `202` of `/delegate` and `/sessions/:id/prompt` sent with `Prefer: respond-async`. */
export const RunAccepted = z.object({
  runId: RunId,
  opencodeSessionId: OpencodeSessionId,
  status: RunState,
});
export type RunAccepted = z.infer<typeof RunAccepted>;

/** `GET /runs/:runId` of the sidecar: a run it knows, finished or not. */
export const SidecarRun = z.object({
  runId: RunId,
  opencodeSessionId: OpencodeSessionId,
  nubabelSessionId: SessionId,
  status: RunState,
  output: z.string().optional(),
  error: ErrorInfo.optional(),
  usage: Usage.optional(),
  model: z.string().optional(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().optional(),
  finishedAt: z.iso.datetime().optional(),
  durationMs: z.number().int().nonnegative().optional(),
});
export type SidecarRun = z.infer<typeof SidecarRun>;

/** The most runs one `POST /runs/query` asks about. */
export const MAX_RUNS_QUERY = 200;

/**
 * `POST /runs/query` of the sidecar: several runs at once, for Nubabel's reconciler, which asks
 * about every run it believes running there (one request a sidecar, not one a run).
 */
export const RunsQuery = z.object({ runIds: z.array(RunId).min(1).max(MAX_RUNS_QUERY) });
export type RunsQuery = z.infer<typeof RunsQuery>;

/** Its answer: each of the runs it knows, finished or not, as `GET /runs/:runId` gives it; a run it does not know is left out. */
export const RunsQueryAnswer = z.object({ runs: z.array(SidecarRun) });
export type RunsQueryAnswer = z.infer<typeof RunsQueryAnswer>;

export const RunParams = z.object({ runId: RunId });
export type RunParams = z.infer<typeof RunParams>;

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
/** What the agent's shell commands run in (see docs/sandbox.md). */
export const SandboxHealth = z.object({
  /** The operator's `SANDBOX` setting. */
  mode: z.enum(["bwrap", "off"]),
  /** `sandboxed`: in bubblewrap; `refused`: bubblewrap is unusable, so commands fail; `unsandboxed`: SANDBOX=off. */
  shell: z.enum(["sandboxed", "refused", "unsandboxed"]),
  network: z.enum(["none", "host"]),
  reason: z.string().optional(),
});
export type SandboxHealth = z.infer<typeof SandboxHealth>;

export const SidecarHealth = z.object({
  status: z.enum(["healthy", "degraded"]),
  opencode: z.object({
    enabled: z.boolean(),
    state: EngineState,
    version: z.string(),
    /** `provider/model` of the default model, or null when none is configured. */
    model: z.string().nullable(),
    restarts: z.number().int().nonnegative(),
    /** Instances loaded now: one per organization's workspace, at most ENGINE_MAX_INSTANCES idle. */
    instances: z.number().int().nonnegative().optional(),
    /** The engine process's resident memory, and how often it was restarted for it (ENGINE_MAX_RSS_MB). */
    rssBytes: z.number().int().nonnegative().optional(),
    recycles: z.number().int().nonnegative().optional(),
  }),
  /** Present when something needs the operator's attention (e.g. no model configured). */
  problems: z.array(z.string()).optional(),
  /** Present when the sidecar uses Redis: it cannot serve a request without it. */
  redis: z.object({ ok: z.boolean(), error: z.string().optional() }).optional(),
  /** True while drained or shutting down: running turns finish, new ones are refused. */
  draining: z.boolean().optional(),
  /**
   * What placement weighs: runs here now (running or waiting in a session's line) against the
   * runs it is sized for (`SIDECAR_CAPACITY`, a weight, not a limit).
   */
  load: z.object({ runs: z.number().int().nonnegative(), capacity: z.number().int().positive() }).optional(),
  /** Absent when the sidecar attaches to an engine it does not configure (`OPENCODE_URL`). */
  sandbox: SandboxHealth.optional(),
  /** OhMyOpenCode in the engine (`SIDECAR_OMO`): a sidecar with it on starts only once it loaded. */
  omo: z.object({ enabled: z.boolean(), version: z.string().optional() }).optional(),
});
export type SidecarHealth = z.infer<typeof SidecarHealth>;

/** `POST /drain` of the sidecar (signed like every call from Nubabel): `drain: false` undoes it. */
export const DrainRequest = z.object({ drain: z.boolean() });
export type DrainRequest = z.infer<typeof DrainRequest>;

/**
 * The sidecar's answer to `POST /drain`: `runs` still running here, `deliveries` results not yet
 * acknowledged by Nubabel (both 0: it may stop without losing an answer).
 */
export const DrainState = z.object({ draining: z.boolean(), runs: z.number().int().nonnegative(), deliveries: z.number().int().nonnegative() });
export type DrainState = z.infer<typeof DrainState>;
