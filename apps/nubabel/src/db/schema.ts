import { sql } from "drizzle-orm";
import { bigint, bigserial, boolean, doublePrecision, foreignKey, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

export const organizations = pgTable("organizations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Keys are stored as SHA-256 hex of the whole key; `prefix` is what a person may see to tell keys apart. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    keyHash: text("key_hash").notNull(),
    prefix: text("prefix").notNull(),
    /** What the key is for, as its maker named it (optional). */
    name: text("name"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
  },
  (t) => [uniqueIndex("api_keys_key_hash_idx").on(t.keyHash), index("api_keys_organization_idx").on(t.organizationId)],
);

/** The seed's session `state` JSON. `opencodeSessionId` is null until the first delegation. */
export type SessionStateJson = { opencodeSessionId: string | null; status: string };

/** Keyed by (organization, id): two organizations may use the same caller-chosen id independently. */
export const sessions = pgTable(
  "sessions",
  {
    id: text("id").notNull(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    userId: text("user_id"),
    state: jsonb("state").$type<SessionStateJson>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "sessions_pk", columns: [t.organizationId, t.id] })],
);

export const messages = pgTable(
  "messages",
  {
    /** Insertion order; ids are random, so history is ordered by this. */
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    id: text("id").notNull(),
    organizationId: text("organization_id").notNull(),
    sessionId: text("session_id").notNull(),
    role: text("role").$type<"user" | "assistant">().notNull(),
    content: text("content").notNull(),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default(sql`'{}'::jsonb`),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("messages_id_idx").on(t.id),
    index("messages_session_idx").on(t.organizationId, t.sessionId, t.seq),
    foreignKey({ name: "messages_session_fk", columns: [t.organizationId, t.sessionId], foreignColumns: [sessions.organizationId, sessions.id] }).onDelete("cascade"),
  ],
);

/**
 * Nubabel session ↔ OpenCode session, the source of truth behind the Redis cache. Both columns are
 * unique: the primary key is what makes two racing first requests end with one OpenCode session.
 */
export const sessionMappings = pgTable(
  "session_mappings",
  {
    sessionId: text("session_id").notNull(),
    opencodeSessionId: text("opencode_session_id").notNull(),
    organizationId: text("organization_id").notNull(),
    /** The sidecar that holds the OpenCode session; follow-ups must go there. */
    sidecarUrl: text("sidecar_url").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "session_mappings_pk", columns: [t.organizationId, t.sessionId] }),
    uniqueIndex("session_mappings_opencode_idx").on(t.opencodeSessionId, t.sidecarUrl),
    // Placement prefers the sidecar that holds an organization's latest session (its workspace).
    index("session_mappings_org_created_idx").on(t.organizationId, t.createdAt),
    foreignKey({ name: "session_mappings_session_fk", columns: [t.organizationId, t.sessionId], foreignColumns: [sessions.organizationId, sessions.id] }).onDelete("cascade"),
  ],
);

/** Where a run came from, so its answer reaches the right place even after a restart. */
export type RunOriginJson =
  | { kind: "api" }
  | { kind: "slack"; teamId: string; channelId: string; threadTs: string; messageTs?: string; progressTs?: string; userId: string };

/**
 * Runs: one turn of a session from acceptance to its answer. `seq` is arrival order (queues are
 * served by it); the prompt is stored on acceptance, the answer once, by the transition that ends it.
 */
export const runs = pgTable(
  "runs",
  {
    seq: bigserial("seq", { mode: "number" }).notNull(),
    id: text("id").primaryKey(),
    organizationId: text("organization_id").notNull(),
    sessionId: text("session_id").notNull(),
    status: text("status").$type<"queued" | "running" | "completed" | "failed" | "aborted">().notNull(),
    reason: text("reason"),
    prompt: text("prompt").notNull(),
    userId: text("user_id"),
    category: text("category"),
    skills: jsonb("skills").$type<string[]>(),
    origin: jsonb("origin").$type<RunOriginJson>().notNull(),
    opencodeSessionId: text("opencode_session_id"),
    sidecarUrl: text("sidecar_url"),
    output: text("output"),
    error: jsonb("error").$type<{ code: string; message: string; status?: number; details?: unknown }>(),
    usage: jsonb("usage").$type<Record<string, number>>(),
    model: text("model"),
    /** Set when the run moved its session to another sidecar, seeded with the conversation's history. */
    contextRestored: jsonb("context_restored").$type<{ from: "history"; messages: number; reason: string }>(),
    abortRequested: boolean("abort_requested").notNull().default(false),
    /** The W3C trace context the run was accepted in, so its dispatch (maybe elsewhere, later) continues that trace. */
    traceparent: text("traceparent"),
    /** When its sidecar last confirmed the run (reconciliation gives up on a sidecar gone too long). */
    checkedAt: timestamp("checked_at", { withTimezone: true }),
    /** When its answer was handed to where it came from (a Slack thread), so that happens once. */
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("runs_seq_idx").on(t.seq),
    index("runs_session_idx").on(t.organizationId, t.sessionId, t.seq),
    index("runs_org_status_idx").on(t.organizationId, t.status, t.seq),
    index("runs_status_idx").on(t.status),
    // Usage reports and the budget's month sum finished runs of one organization by time.
    index("runs_org_finished_idx").on(t.organizationId, t.finishedAt),
    foreignKey({ name: "runs_session_fk", columns: [t.organizationId, t.sessionId], foreignColumns: [sessions.organizationId, sessions.id] }).onDelete("cascade"),
  ],
);

/**
 * An organization's MCP connections. Credentials are one AES-256-GCM blob (`keyId:…`, bound to the
 * row's id) and never stored in the clear; `credential_names` lets listings show names without
 * decrypting. `transport` is set for `custom` connections only (catalog providers take theirs from
 * the catalog). Names are unique per organization because the agent may address a connection by it.
 */
export const mcpConnections = pgTable(
  "mcp_connections",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    name: text("name").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    transport: jsonb("transport").$type<{ type: "http"; url: string }>(),
    sealedCredentials: text("sealed_credentials").notNull(),
    credentialNames: jsonb("credential_names").$type<string[]>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("mcp_connections_org_name_idx").on(t.organizationId, t.name),
    index("mcp_connections_org_enabled_idx").on(t.organizationId, t.enabled, t.createdAt),
  ],
);

/** A Slack workspace linked to an organization (`nubabel org link-slack`). */
export const slackLinks = pgTable(
  "slack_links",
  {
    teamId: text("team_id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("slack_links_organization_idx").on(t.organizationId)],
);

/**
 * A Slack thread bound to its Nubabel session. The primary key settles two racing first mentions.
 * `session_id` has no foreign key: the thread is claimed before the first delegation creates the
 * session row.
 */
export const slackThreads = pgTable(
  "slack_threads",
  {
    teamId: text("team_id").notNull(),
    channelId: text("channel_id").notNull(),
    threadTs: text("thread_ts").notNull(),
    sessionId: text("session_id").notNull(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "slack_threads_pk", columns: [t.teamId, t.channelId, t.threadTs] }), index("slack_threads_session_idx").on(t.sessionId)],
);

/**
 * An organization's approval policy, every version kept (`PUT /api/policy` adds one); the highest
 * version is in force. No row: the default policy, which asks for nothing.
 */
export const approvalPolicies = pgTable(
  "approval_policies",
  {
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    policy: jsonb("policy").$type<{ approvals: { match: string; approvers?: "requester" | "workspace" | string[] }[]; timeoutSeconds?: number }>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ name: "approval_policies_pk", columns: [t.organizationId, t.version] })],
);

/**
 * One tool call of a run waiting for (or decided by) a person. `(run_id, request_id)` is unique:
 * the sidecar's ask may be delivered more than once and makes one approval. A decision is one
 * conditional update from `pending`, so two people pressing at once decide it once.
 */
export const approvals = pgTable(
  "approvals",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    sessionId: text("session_id").notNull(),
    /** The engine's permission request id, which the decision answers. */
    requestId: text("request_id").notNull(),
    /** The engine's id of the tool call, which Nubabel's MCP gateway checks before running a covered call. */
    callId: text("call_id"),
    tool: text("tool").notNull(),
    provider: text("provider"),
    arguments: jsonb("arguments").$type<Record<string, unknown>>().notNull(),
    /** Who may decide, from the matching rule: "requester", "workspace" or Slack user ids. */
    approvers: jsonb("approvers").$type<"requester" | "workspace" | string[]>().notNull(),
    status: text("status").$type<"pending" | "approved" | "denied" | "expired">().notNull(),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    decidedBy: text("decided_by"),
    decidedAt: timestamp("decided_at", { withTimezone: true }),
    reason: text("reason"),
    /** The decision reached the sidecar (or there was nothing left to answer): nothing more to send. */
    repliedAt: timestamp("replied_at", { withTimezone: true }),
    /** The Slack message carrying the buttons, once posted. */
    slackChannel: text("slack_channel"),
    slackTs: text("slack_ts"),
    /**
     * When an instance took on posting the Slack message: one poster across instances, and a claim
     * whose post never finished (the instance died) is taken again once it is old.
     */
    slackClaimedAt: timestamp("slack_claimed_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("approvals_run_request_idx").on(t.runId, t.requestId),
    index("approvals_org_run_idx").on(t.organizationId, t.runId, t.requestedAt),
    index("approvals_pending_idx").on(t.status, t.expiresAt),
    index("approvals_org_session_call_idx").on(t.organizationId, t.sessionId, t.callId),
    index("approvals_unreplied_idx").on(t.decidedAt).where(sql`${t.status} <> 'pending' and ${t.repliedAt} is null`),
  ],
);

/**
 * The audit trail: tool calls, approval decisions, changes to connections, API keys, the approval
 * policy, the budget and webhook endpoints, and key rotations (`AuditKind`). Never credentials, a
 * webhook's secret or a call's arguments. `seq` orders entries and pages through them.
 */
export const auditEvents = pgTable(
  "audit_events",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    id: text("id").notNull(),
    organizationId: text("organization_id").notNull(),
    at: timestamp("at", { withTimezone: true }).notNull().defaultNow(),
    kind: text("kind").notNull(),
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    sessionId: text("session_id"),
    runId: text("run_id"),
    tool: text("tool"),
    provider: text("provider"),
    connectionId: text("connection_id"),
    decision: text("decision"),
    status: text("status"),
    durationMs: integer("duration_ms"),
    detail: text("detail"),
  },
  (t) => [
    uniqueIndex("audit_events_id_idx").on(t.id),
    index("audit_events_org_seq_idx").on(t.organizationId, t.seq),
    index("audit_events_org_run_idx").on(t.organizationId, t.runId, t.seq),
    index("audit_events_org_session_idx").on(t.organizationId, t.sessionId, t.seq),
    index("audit_events_at_idx").on(t.at),
  ],
);

/**
 * An organization's webhook endpoints. Secrets are sealed with the keyring (bound to the row's id)
 * since signing needs them in the clear; the one replaced by a rotation keeps signing until
 * `previous_secret_expires_at`. `failing_since` is the first failure since the last success: a day
 * of that disables the endpoint, with `disabled_reason` saying why.
 */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    organizationId: text("organization_id")
      .notNull()
      .references(() => organizations.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    events: jsonb("events").$type<string[]>().notNull(),
    enabled: boolean("enabled").notNull().default(true),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: timestamp("previous_secret_expires_at", { withTimezone: true }),
    failingSince: timestamp("failing_since", { withTimezone: true }),
    disabledReason: text("disabled_reason"),
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("webhook_endpoints_org_idx").on(t.organizationId, t.createdAt)],
);

/**
 * The outbox and the delivery log at once: a row is written before its first attempt and is the
 * only record of it. `seq` orders a run's events; a delivery is sent only once every earlier one of
 * its run to its endpoint is settled. `lease_until` claims a row for one sender at a time (taken
 * with `FOR UPDATE SKIP LOCKED`); a sender that dies lets its lease lapse and another sends again.
 * `(endpoint, run, type, event_key)` is unique, so an event recorded twice is delivered once.
 */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    seq: bigserial("seq", { mode: "number" }).notNull(),
    id: text("id").primaryKey(),
    organizationId: text("organization_id").notNull(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    runId: text("run_id").notNull(),
    type: text("type").notNull(),
    /** What makes one event of a type unique for its run: "" for run events, the approval id and status for approval ones. */
    eventKey: text("event_key").notNull().default(""),
    /** The exact JSON sent, so every attempt signs the same bytes. */
    payload: text("payload").notNull(),
    status: text("status").$type<"pending" | "delivered" | "failed">().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    leaseUntil: timestamp("lease_until", { withTimezone: true }),
    /** Retries stop here (a day after creation, or after a manual retry). */
    retryUntil: timestamp("retry_until", { withTimezone: true }).notNull(),
    lastStatusCode: integer("last_status_code"),
    lastResponse: text("last_response"),
    lastError: text("last_error"),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_seq_idx").on(t.seq),
    uniqueIndex("webhook_deliveries_event_idx").on(t.endpointId, t.runId, t.type, t.eventKey),
    index("webhook_deliveries_due_idx").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.seq),
    index("webhook_deliveries_run_idx").on(t.endpointId, t.runId, t.seq),
  ],
);

/**
 * An organization's own monthly budget (`PUT /api/budget`); without a row the operator's default
 * applies. A null cap is no cap of that kind.
 */
export const budgets = pgTable("budgets", {
  organizationId: text("organization_id")
    .primaryKey()
    .references(() => organizations.id, { onDelete: "cascade" }),
  monthlyCost: doublePrecision("monthly_cost"),
  monthlyTokens: bigint("monthly_tokens", { mode: "number" }),
  warnAtPercent: integer("warn_at_percent"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
