import path from "node:path";
import { z } from "zod";
import { Webhooks } from "@nubabel/contracts";
// Not the package root: that loads OpenTelemetry and prom-client, which the CLI never needs.
import { METRICS_ENV, metricsEnvProblem } from "@nubabel/telemetry/metrics-env";

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const optionalUrl = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v.trim()))
  .pipe(z.url().optional());

/**
 * Every setting Nubabel reads from its environment. Unset optional infrastructure selects the
 * embedded default: no `DATABASE_URL` → PGlite in the data folder, no `REDIS_URL` → in-process
 * equivalents (single instance only).
 */
const Schema = z.object({
  NUBABEL_PORT: port.default(3000),
  NUBABEL_HOST: z.string().min(1).default("127.0.0.1"),
  /** Public base URL; callbacks handed to the sidecar are built from it. */
  NUBABEL_URL: optionalUrl,
  NUBABEL_DATA_DIR: z.string().min(1).default("./.data/nubabel"),
  DATABASE_URL: optionalUrl,
  REDIS_URL: optionalUrl,
  /** Prefix of every Redis key, so several deployments (or test files) can share one Redis. */
  REDIS_KEY_PREFIX: z.string().default("nubabel:"),
  /** The one sidecar, when `SIDECAR_URLS` is unset. */
  SIDECAR_URL: z.url().default("http://127.0.0.1:3001"),
  /** Several sidecars, comma-separated: new sessions are placed over them. Wins over `SIDECAR_URL`. */
  SIDECAR_URLS: z
    .string()
    .optional()
    .transform((v) => v?.split(",").map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.url({ error: "must be a comma-separated list of sidecar URLs" })).min(1, "must name at least one sidecar URL").max(64).optional()),
  /** How often each sidecar's health is asked, and how long one may stay silent before it is gone. */
  SIDECAR_HEARTBEAT_MS: positiveInt.default(2_000),
  SIDECAR_HEARTBEAT_TIMEOUT_MS: positiveInt.default(10_000),
  SIDECAR_SHARED_SECRET: z
    .string({ error: "is required (a whsec_… Standard Webhooks secret shared with the sidecar; `npm start` generates one)" })
    .refine(Webhooks.isSecret, "must be a Standard Webhooks secret: whsec_ followed by at least 24 base64 bytes"),
  /** Signs capability tokens; generated and kept in the data folder when unset. */
  NUBABEL_TOKEN_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  /**
   * Bounds every call to a sidecar. Nothing waits for a turn (runs are accepted at once and end by
   * callback), so a turn of any length works with a short bound.
   */
  SIDECAR_REQUEST_TIMEOUT_MS: positiveInt.default(10_000),
  SIDECAR_HEALTH_TIMEOUT_MS: positiveInt.default(2_000),
  /** Consecutive sidecar failures that open the circuit, and how long it stays open. */
  SIDECAR_BREAKER_THRESHOLD: positiveInt.default(5),
  SIDECAR_BREAKER_RESET_MS: positiveInt.default(10_000),
  /** Per organization: turns running at once, and runs waiting beyond those (then 429). */
  ORG_MAX_RUNNING: positiveInt.default(8),
  ORG_MAX_QUEUED: z.coerce.number().int().nonnegative().default(100),
  /** How often running runs are checked with their sidecar, and how long a silent sidecar has lost one. */
  RUN_RECONCILE_INTERVAL_MS: positiveInt.default(10_000),
  RUN_LOST_AFTER_MS: positiveInt.default(45_000),
  /**
   * How long an instance reuses what it read of an organization's settings: API keys, approval
   * policy, budget, webhook endpoints (a change made through this instance applies here at once,
   * on the others when they hear of it over Redis, and within this at the latest). 0 reads them
   * for every request.
   */
  SETTINGS_CACHE_MS: z.coerce.number().int().nonnegative().max(60_000).default(5_000),
  /**
   * How often approvals past their time are expired (and decisions a sidecar missed sent again).
   * Each sweep is two queries: every second, they were most of an idle embedded Nubabel's CPU.
   */
  APPROVAL_SWEEP_MS: positiveInt.default(5_000),
  /**
   * The longest one run may take (the sidecar stops it then, if its own bound is not shorter). A
   * run's callback token expires this long after the hand-over, plus a margin for delivering its end.
   */
  RUN_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(24 * 3_600_000).default(10 * 60_000),
  STREAM_TOKEN_TTL_SECONDS: positiveInt.default(300),
  MAPPING_CACHE_TTL_SECONDS: positiveInt.default(24 * 3600),
  PROGRESS_MAXLEN: positiveInt.default(1_000),
  PROGRESS_HEARTBEAT_MS: positiveInt.default(15_000),
  BODY_LIMIT_BYTES: positiveInt.default(1_048_576),
  REQUEST_TIMEOUT_MS: positiveInt.default(30_000),
  /** Per-minute callback budgets; generous, because a busy run posts many progress events. */
  CALLBACK_RATE_LIMIT_PER_ORG: positiveInt.default(6_000),
  CALLBACK_RATE_LIMIT_PER_SESSION: positiveInt.default(1_200),
  API_RATE_LIMIT_PER_KEY: positiveInt.default(600),
  /** On stop, how long requests in flight may finish (a caller waiting on a run gets cut; the run goes on). */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().nonnegative().default(10_000),
  /**
   * Keys encrypting MCP credentials: `"k2:<base64 32 bytes>,k1:<…>"`, the first one current. Parsed
   * by `crypto/keyring.ts` (whose errors never echo key material); unset only on the embedded default.
   */
  NUBABEL_ENCRYPTION_KEY: z.string().optional(),
  /** The operator's MCP provider catalog (JSON file), merged over the built-in one. */
  NUBABEL_MCP_CATALOG: z.string().min(1).optional(),
  /** Lets `custom` connections point at loopback, private and link-local addresses (single-tenant hosts only). */
  NUBABEL_MCP_ALLOW_PRIVATE_URLS: z
    .enum(["true", "false", "1", "0"], { error: "must be true or false" })
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  NUBABEL_MCP_CALL_TIMEOUT_MS: positiveInt.default(30_000),
  /** Starting a server and its handshake; longer, since `npx` may first download it. */
  NUBABEL_MCP_CONNECT_TIMEOUT_MS: positiveInt.default(60_000),
  NUBABEL_MCP_IDLE_TIMEOUT_MS: positiveInt.default(300_000),
  NUBABEL_MCP_TOOLS_TTL_MS: positiveInt.default(60_000),
  NUBABEL_MCP_MAX_STDIO_SERVERS: positiveInt.default(64),
  /** What stdio MCP servers get as PATH (they get none of Nubabel's other variables). */
  PATH: z.string().default("/usr/local/bin:/usr/bin:/bin"),
  /** Lets webhook endpoints point at loopback, private and link-local addresses (single-tenant hosts only). */
  NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS: z
    .enum(["true", "false", "1", "0"], { error: "must be true or false" })
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  /** Bounds each webhook attempt, connection to last byte read. */
  NUBABEL_WEBHOOKS_TIMEOUT_MS: positiveInt.default(10_000),
  /** The first retry's delay; each next one doubles (up to an hour), with jitter. */
  NUBABEL_WEBHOOKS_RETRY_BASE_MS: positiveInt.default(5_000),
  /** How long a delivery is retried, and how long an endpoint may fail every delivery before it is disabled. */
  NUBABEL_WEBHOOKS_RETRY_FOR_MS: positiveInt.default(24 * 3_600_000),
  /** How often each instance looks for deliveries due (events recorded here are sent at once). */
  NUBABEL_WEBHOOKS_POLL_MS: positiveInt.default(5_000),
  /** The Slack bot runs when both are set (HTTP events at `POST /slack/events`). */
  SLACK_BOT_TOKEN: z.string().regex(/^xoxb-/, "must be a bot token (xoxb-…)").optional(),
  SLACK_SIGNING_SECRET: z.string().min(1).optional(),
  /** Set → Socket Mode instead of HTTP events. */
  SLACK_APP_TOKEN: z.string().regex(/^xapp-/, "must be an app-level token (xapp-…)").optional(),
  /** Slack's Web API base (tests point it at a local fake). */
  SLACK_API_URL: optionalUrl,
  /** Least gap between two edits of one progress message (Slack allows about one per second). */
  SLACK_UPDATE_INTERVAL_MS: positiveInt.default(1_000),
  /**
   * How often the bot looks for approval messages that were never posted (a restart, or Slack
   * refused the post), and how old an approval must be before it is taken to have been missed.
   */
  SLACK_APPROVAL_RECOVERY_MS: positiveInt.default(30_000),
  SLACK_APPROVAL_GRACE_MS: positiveInt.default(20_000),
  /**
   * The operator's default monthly budget for every organization without one of its own (`PUT
   * /api/budget`): a cap on cost (USD, as the engine reports it) and/or on tokens (input + output).
   */
  NUBABEL_DEFAULT_MONTHLY_COST: z.coerce.number().positive().max(1e9).optional(),
  NUBABEL_DEFAULT_MONTHLY_TOKENS: positiveInt.max(1e15).optional(),
  /** Past this percentage of a cap the budget shows `warning` (an organization's own setting wins). */
  NUBABEL_DEFAULT_BUDGET_WARN_PERCENT: z.coerce.number().int().min(1).max(100).default(80),
  /** Audit entries older than this many days are pruned (hourly); 0 keeps them forever. */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().nonnegative().max(36_500).default(90),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** An OTLP/HTTP collector's base URL: traces are exported there; unset, tracing is off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
  /** The `service.name` of this service's spans. */
  OTEL_SERVICE_NAME: z.string().trim().min(1).default("nubabel"),
  /** `GET /metrics` behind this bearer token (off when unset); on `METRICS_HOST:METRICS_PORT` when a port is set. */
  ...METRICS_ENV,
});

/**
 * The parsed configuration. `NUBABEL_URL` stays undefined when unset: the server then uses
 * `http://127.0.0.1:<the port it actually bound>`, which also works for port 0 in tests.
 */
export type Env = Omit<z.infer<typeof Schema>, "SIDECAR_URLS"> & {
  /** Every sidecar, from `SIDECAR_URLS` or else `SIDECAR_URL`: without trailing slashes, each once. */
  SIDECAR_URLS: string[];
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly variables: string[], message: string) {
    super(message);
  }
}

/** Parses and checks the environment once; throws `ConfigError` naming each bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  // Blank values mean "unset", as they do in most .env files.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = Schema.safeParse(cleaned);
  if (!parsed.success) {
    const variables = [...new Set(parsed.error.issues.map((i) => String(i.path[0] ?? "?")))];
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0] ?? "?")}: ${i.message}`);
    throw new ConfigError(variables, `invalid configuration:\n${lines.join("\n")}`);
  }
  const env = parsed.data;
  const slack = [env.SLACK_BOT_TOKEN, env.SLACK_SIGNING_SECRET].filter(Boolean).length;
  if (slack === 1 || (env.SLACK_APP_TOKEN && slack < 2)) {
    const missing = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"].filter((k) => !cleaned[k]);
    throw new ConfigError(missing, `invalid configuration:\n  ${missing.join(", ")}: the Slack bot needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET together`);
  }
  const metrics = metricsEnvProblem(env);
  if (metrics) throw new ConfigError(["METRICS_HOST"], `invalid configuration:\n  METRICS_HOST: ${metrics}`);
  if (env.SIDECAR_HEARTBEAT_TIMEOUT_MS <= env.SIDECAR_HEARTBEAT_MS) {
    throw new ConfigError(["SIDECAR_HEARTBEAT_TIMEOUT_MS"], "invalid configuration:\n  SIDECAR_HEARTBEAT_TIMEOUT_MS: must be longer than SIDECAR_HEARTBEAT_MS");
  }
  return {
    ...env,
    SIDECAR_URLS: [...new Set((env.SIDECAR_URLS ?? [env.SIDECAR_URL]).map((url) => url.replace(/\/+$/, "")))],
    NUBABEL_URL: env.NUBABEL_URL?.replace(/\/+$/, ""),
    // npm runs workspace scripts inside the workspace folder; INIT_CWD is where the person typed
    // the command, so `npm run nubabel`, `npm start` and `npx nubabel` all find the same folder.
    NUBABEL_DATA_DIR: path.resolve(source.INIT_CWD || process.cwd(), env.NUBABEL_DATA_DIR),
  };
}

/** Variables that no longer do anything, and what replaced them: said at start, never silently ignored. */
const RETIRED: Record<string, string> = {
  SIDECAR_TIMEOUT_MS: "SIDECAR_TIMEOUT_MS no longer applies: nothing waits for a turn now; SIDECAR_REQUEST_TIMEOUT_MS bounds each call to a sidecar",
  CALLBACK_TOKEN_TTL_SECONDS: "CALLBACK_TOKEN_TTL_SECONDS no longer applies: a run's callback token lives RUN_TIMEOUT_MS plus 10 minutes",
};

/** Warnings for retired variables that are still set. */
export function retiredVariables(source: Record<string, string | undefined>): string[] {
  return Object.keys(RETIRED).filter((name) => source[name]).map((name) => RETIRED[name]!);
}

/** True on the embedded default (PGlite), where only one process may open the database. */
export function isEmbedded(env: Pick<Env, "DATABASE_URL">): boolean {
  return env.DATABASE_URL === undefined;
}

/** The process environment: the one place that reads it. */
export function loadProcessEnv(): Record<string, string | undefined> {
  return process.env;
}
