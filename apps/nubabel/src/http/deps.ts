import type { FastifyInstance } from "fastify";
import type { HealthReport, Webhooks } from "@nubabel/contracts";
import type { Approvals } from "../approvals/index.js";
import type { AuditLog } from "../audit/index.js";
import type { Budgets } from "../budgets/index.js";
import type { RateLimiter } from "../limits/rate-limiter.js";
import type { Logger } from "../log/logger.js";
import type { SessionMapping } from "../mapping/session-mapping.js";
import type { McpGateway } from "../mcp-gateway.js";
import type { Connections } from "../mcp/connections.js";
import type { RotationReport } from "../crypto/rotation.js";
import type { ApiKeys, OrganizationStore } from "../organizations/index.js";
import type { ProgressLog } from "../progress/progress-log.js";
import type { Runs } from "../runs/index.js";
import type { SessionStore } from "../sessions/index.js";
import type { SidecarClient } from "../sidecar/index.js";
import type { WebhookEndpoints } from "../webhooks/index.js";
import type { UsageStore } from "../usage/index.js";

/** What `/health` and `/readyz` report (its shape lives in contracts, which the API document is built from). */
export type { HealthReport, SidecarEntry } from "@nubabel/contracts";

/** Everything the HTTP layer needs, built in `main.ts`. */
export interface HttpDeps {
  logger: Logger;
  organizations: OrganizationStore;
  /** `/api/keys`: the organization's own keys (changes audited as `api`). */
  apiKeys: ApiKeys;
  sessions: SessionStore;
  mapping: SessionMapping;
  runs: Runs;
  sidecar: SidecarClient;
  progress: ProgressLog;
  replayGuard: Webhooks.ReplayGuard;
  rateLimiter: RateLimiter;
  mcp: McpGateway;
  /** Tool-call approvals and the organization's policy (`/api/policy`, a run's approvals). */
  approvals: Approvals;
  /**
   * The organizations' audit trail: `GET /api/audit` reads it; domains record into it (tool calls,
   * connection changes, key rotations, approval decisions). `record` never throws.
   */
  audit: AuditLog;
  /** `GET /api/usage` sums the organization's runs through it. */
  usage: UsageStore;
  /** `/api/budget`: the organization's monthly cap and this month's spend. */
  budgets: Budgets;
  /** `/api/connections`; the routes are absent without it. */
  connections?: Connections;
  /** `/api/webhooks`; the routes are absent without it. */
  webhooks?: WebhookEndpoints;
  health(): Promise<HealthReport>;
  /** Called on the app before any route or hook is added: metrics hook in here. */
  instrument?(app: FastifyInstance): void;
  /** Present on the embedded default only: the CLI's door into the one process that may open PGlite. */
  admin?: {
    secret: string;
    /** `nubabel connections …` while the server holds the embedded database. */
    connections?: Connections;
    /** `nubabel org link-slack` while the server holds the embedded database. */
    slackLinks?: { link(teamId: string, organizationId: string): Promise<void> };
    /** `nubabel org keys|add-key|revoke-key` while the server holds the embedded database (audited as `operator`). */
    apiKeys?: ApiKeys;
    /** `nubabel keys rotate` while the server holds the embedded database: re-encrypts under its current key. */
    rotation?: { keyId: string; rotate(): Promise<RotationReport> };
  };
  config: {
    sidecarSecret: string;
    tokenSecret: string;
    bodyLimit: number;
    /** Longest a client may take to send its whole request (headers and body); the answer is not bounded by it. */
    requestTimeoutMs: number;
    heartbeatMs: number;
    streamTokenTtlSeconds: number;
    callbackLimitPerOrg: number;
    callbackLimitPerSession: number;
    apiLimitPerKey: number;
  };
}
