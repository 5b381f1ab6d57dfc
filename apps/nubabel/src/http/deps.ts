import type { FastifyInstance } from "fastify";
import type { Webhooks } from "@nubabel/contracts";
import type { RateLimiter } from "../limits/rate-limiter.js";
import type { Logger } from "../log/logger.js";
import type { SessionMapping } from "../mapping/session-mapping.js";
import type { McpGateway } from "../mcp-gateway.js";
import type { Connections } from "../mcp/connections.js";
import type { RotationReport } from "../crypto/rotation.js";
import type { OrganizationStore } from "../organizations/index.js";
import type { ProgressLog } from "../progress/progress-log.js";
import type { Runs } from "../runs/index.js";
import type { SessionStore } from "../sessions/index.js";
import type { SidecarClient } from "../sidecar/index.js";

/**
 * What `/health` and `/readyz` report, each check bounded in time. Nubabel is ready when the
 * database, Redis (when configured) and the sidecar are `ok`; Slack is shown but never gates it.
 */
/** One sidecar in the health report; `runs`/`capacity` are its load, `draining` that it takes no new runs. */
export interface SidecarEntry {
  ok: boolean;
  url: string;
  status?: string;
  engine?: string;
  sandbox?: string;
  draining?: boolean;
  runs?: number;
  capacity?: number;
  error?: string;
}

export interface HealthReport {
  database: { ok: boolean; kind: string; error?: string };
  redis: { ok: boolean; mode: "redis" | "in-process"; error?: string };
  /** `ok` only when the sidecar says `healthy`, i.e. its OpenCode engine runs; `engine` is its state. */
  /** `sandbox`: what the agent's shell commands run in there (sandboxed, refused or unsandboxed). */
  /** With several sidecars: the first that can take new sessions (else the first), and `sidecars` lists each. */
  sidecar: SidecarEntry;
  sidecars?: SidecarEntry[];
  /** Present when the Slack bot is configured: a revoked token or an outage shows here, not only in logs. */
  slack?: { ok: boolean; mode: "http" | "socket"; botUserId?: string; error?: string };
}

/** Everything the HTTP layer needs, built in `main.ts`. */
export interface HttpDeps {
  logger: Logger;
  organizations: OrganizationStore;
  sessions: SessionStore;
  mapping: SessionMapping;
  runs: Runs;
  sidecar: SidecarClient;
  progress: ProgressLog;
  replayGuard: Webhooks.ReplayGuard;
  rateLimiter: RateLimiter;
  mcp: McpGateway;
  /** `/api/connections`; the routes are absent without it. */
  connections?: Connections;
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
    /** `nubabel keys rotate` while the server holds the embedded database: re-encrypts under its current key. */
    rotation?: { keyId: string; rotate(): Promise<RotationReport> };
  };
  config: {
    sidecarSecret: string;
    tokenSecret: string;
    bodyLimit: number;
    heartbeatMs: number;
    streamTokenTtlSeconds: number;
    callbackLimitPerOrg: number;
    callbackLimitPerSession: number;
    apiLimitPerKey: number;
  };
}
