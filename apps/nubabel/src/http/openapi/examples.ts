import type {
  ApiBudget,
  ApiPolicy,
  Approval,
  ApiDelegateRequest,
  ApiRun,
  ApiRunAccepted,
  ApiSession,
  ApiSessionSummary,
  AuditPage,
  BudgetSettings,
  Connection,
  DelegateResponse,
  HealthReport,
  ProgressEvent,
  RunResult,
  StreamEvent,
  StreamToken,
  UsageReport,
} from "@nubabel/contracts";

/**
 * One conversation told through every route, so the examples agree with each other: a person asks
 * about their Notion tasks in Slack thread `thread-42`. Typed by the contracts, and checked against
 * them by the OpenAPI test, so an example cannot drift from the shape it illustrates.
 */

export const RUN_ID = "run_01jd8k4w7q2m9x3v5t6n8p0r1s";
export const SESSION_ID = "thread-42";
export const OPENCODE_SESSION_ID = "ses_1f3a7c9e2b4d6f8a0c";
export const ORGANIZATION_ID = "org_7h2k9m4p6r8t0v1x3z5b";
export const CONNECTION_ID = "conn_5q8w2e4r6t9y1u3i7o0p";

const CREATED = "2026-11-29T21:14:03.120Z";
const STARTED = "2026-11-29T21:14:03.410Z";
const FINISHED = "2026-11-29T21:14:11.532Z";
const ANSWER = "You have 7 open tasks in Notion; 3 are marked urgent: the Q4 budget review, the vendor contract and the onboarding doc.";
const USAGE = { inputTokens: 4210, outputTokens: 182, reasoningTokens: 0, cacheReadTokens: 3900, cacheWriteTokens: 0, cost: 0.0041 };

export const delegateRequest: ApiDelegateRequest = {
  prompt: "Summarize my Notion tasks and tell me which are urgent",
  sessionId: SESSION_ID,
  userId: "U024BE7LH",
};

export const delegateResponse: DelegateResponse = {
  output: ANSWER,
  status: "success",
  metadata: {
    model: "anthropic/claude-sonnet-4-5",
    opencodeSessionId: OPENCODE_SESSION_ID,
    nubabelSessionId: SESSION_ID,
    durationMs: 8122,
    runId: RUN_ID,
    usage: USAGE,
  },
};

export const runAccepted: ApiRunAccepted = {
  runId: RUN_ID,
  sessionId: SESSION_ID,
  status: "queued",
  links: { run: `/api/runs/${RUN_ID}`, stream: `/api/sidecar/sessions/${SESSION_ID}/stream` },
};

export const run: ApiRun = {
  id: RUN_ID,
  sessionId: SESSION_ID,
  status: "completed",
  output: ANSWER,
  usage: USAGE,
  userId: "U024BE7LH",
  createdAt: CREATED,
  startedAt: STARTED,
  finishedAt: FINISHED,
};

export const sessionSummary: ApiSessionSummary = {
  id: SESSION_ID,
  organizationId: ORGANIZATION_ID,
  userId: "U024BE7LH",
  state: { opencodeSessionId: OPENCODE_SESSION_ID, status: "completed" },
  createdAt: CREATED,
  updatedAt: FINISHED,
};

export const session: ApiSession = {
  id: SESSION_ID,
  organizationId: ORGANIZATION_ID,
  userId: "U024BE7LH",
  state: { opencodeSessionId: OPENCODE_SESSION_ID, status: "completed" },
  createdAt: CREATED,
  updatedAt: FINISHED,
  messages: [
    { id: "msg_2c4e6g8j0l", role: "user", content: delegateRequest.prompt, metadata: { runId: RUN_ID }, createdAt: CREATED },
    { id: "msg_3d5f7h9k1m", role: "assistant", content: ANSWER, metadata: { runId: RUN_ID }, createdAt: FINISHED },
  ],
};

export const streamToken: StreamToken = {
  token: "eyJ2IjoxLCJhdWQiOiJzdHJlYW0ifQ.q7Tn4kR2xW9pLm0sV8cB1dF6gH3jK5zA",
  expiresAt: "2026-11-29T21:19:03.000Z",
  url: `/api/sidecar/sessions/${SESSION_ID}/stream?token=eyJ2IjoxLCJhdWQiOiJzdHJlYW0ifQ.q7Tn4kR2xW9pLm0sV8cB1dF6gH3jK5zA`,
};

const toolStarted: ProgressEvent = {
  type: "tool_started",
  data: { tool: "nubabel_mcp_invoke", callId: "call_8f2a", input: { provider: "notion", toolName: "API-post-search" } },
  timestamp: "2026-11-29T21:14:05.002Z",
  seq: 2,
  runId: RUN_ID,
};

export const streamEvent: StreamEvent = { ...toolStarted, id: "1764450845002-0", sessionId: SESSION_ID };

export const connection: Connection = {
  id: CONNECTION_ID,
  provider: "notion",
  name: "notion",
  enabled: true,
  credentials: ["NOTION_TOKEN"],
  createdAt: "2026-11-28T09:30:00.000Z",
  updatedAt: "2026-11-28T09:30:00.000Z",
};

export const health: HealthReport = {
  database: { ok: true, kind: "postgres" },
  redis: { ok: true, mode: "redis" },
  sidecar: { ok: true, url: "http://127.0.0.1:3001", status: "healthy", engine: "running", sandbox: "sandboxed", runs: 2, capacity: 8 },
};

export const progressEvent: ProgressEvent = toolStarted;

export const runResult: RunResult = {
  runId: RUN_ID,
  opencodeSessionId: OPENCODE_SESSION_ID,
  status: "completed",
  output: ANSWER,
  usage: USAGE,
  model: "anthropic/claude-sonnet-4-5",
  durationMs: 8122,
  finishedAt: FINISHED,
};

export const APPROVAL_ID = "apr_5g7j9l1n3p";

export const policy: ApiPolicy = {
  approvals: [{ match: "notion/*create*" }, { match: "github/*", approvers: ["U024BE7LH", "U0G9QF9C6"] }, { match: "bash", approvers: "workspace" }],
  timeoutSeconds: 600,
  version: 3,
  updatedAt: CREATED,
};

export const approval: Approval = {
  id: APPROVAL_ID,
  runId: RUN_ID,
  sessionId: SESSION_ID,
  tool: "create_page",
  provider: "notion",
  arguments: { parent: { page_id: "59833787-2cf9-4fdf-8782-e53db20768a5" }, title: "Q3 plan" },
  status: "approved",
  requestedAt: STARTED,
  expiresAt: "2026-11-29T10:10:01.000Z",
  decidedBy: "api",
  decidedAt: "2026-11-29T10:00:20.000Z",
  reason: "looks right",
};

/** The audit trail of the same conversation: the Notion search the agent ran, and the connection it used. */
export const auditPage: AuditPage = {
  entries: [
    {
      id: "aud_01jd8k3a9c5e7g1j3l5n7q9s2u",
      at: "2026-11-28T09:30:00.012Z",
      kind: "connection",
      actor: "api",
      action: "create",
      provider: "notion",
      connectionId: CONNECTION_ID,
      status: "ok",
      detail: "provider notion",
    },
    {
      id: "aud_01jd8k4y2b4d6f8h0k2m4p6r8t",
      at: "2026-11-29T21:14:05.734Z",
      kind: "tool_call",
      actor: "agent",
      action: "invoke",
      sessionId: SESSION_ID,
      runId: RUN_ID,
      tool: "API-post-search",
      provider: "notion",
      connectionId: CONNECTION_ID,
      status: "ok",
      durationMs: 712,
    },
  ],
  nextCursor: "YTE6MTA0Mg",
};

/** November's usage so far by day: the run above on the 29th, and two earlier ones. */
export const usageReport: UsageReport = {
  from: "2026-11-01T00:00:00.000Z",
  to: "2026-11-30T00:00:00.000Z",
  groupBy: "day",
  rows: [
    { key: "2026-11-28", runs: 2, inputTokens: 8120, outputTokens: 640, reasoningTokens: 0, cacheReadTokens: 7300, cacheWriteTokens: 410, cost: 0.0112 },
    { key: "2026-11-29", runs: 1, ...USAGE },
  ],
  total: { runs: 3, inputTokens: 12330, outputTokens: 822, reasoningTokens: 0, cacheReadTokens: 11200, cacheWriteTokens: 410, cost: 0.0153 },
};

export const budgetSettings: BudgetSettings = { monthlyCost: 50, monthlyTokens: 20_000_000, warnAtPercent: 80 };

export const budget: ApiBudget = {
  monthlyCost: 50,
  monthlyTokens: 20_000_000,
  warnAtPercent: 80,
  source: "organization",
  spent: { cost: 41.37, tokens: 9_412_004 },
  periodStart: "2026-11-01T00:00:00.000Z",
  resetsAt: "2026-12-01T00:00:00.000Z",
  state: "warning",
};

/** The same organization without a budget of its own: the operator's default applies. */
export const defaultBudget: ApiBudget = {
  monthlyCost: 100,
  warnAtPercent: 80,
  source: "default",
  spent: budget.spent,
  periodStart: budget.periodStart,
  resetsAt: budget.resetsAt,
  state: "ok",
};
