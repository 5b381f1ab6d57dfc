import path from "node:path";
import { z } from "zod";
import { Webhooks } from "@nubabel/contracts";
import { parseAllowList } from "@nubabel/net-policy";
import { METRICS_ENV, metricsEnvProblem } from "@nubabel/telemetry";

const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v && v.trim() ? v.trim() : undefined));

/** A price in USD per million tokens; blank is unset, and a word is refused (NaN is not a number). */
const price = optionalString.transform((v) => (v === undefined ? undefined : Number(v))).pipe(z.number().nonnegative().optional());

/**
 * Every setting of the sidecar, read once at start. Names are the environment variables a user
 * sets; errors name them.
 */
export const Env = z.object({
  SIDECAR_HOST: z.string().default("127.0.0.1"),
  SIDECAR_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
  SIDECAR_SHARED_SECRET: z
    .string({ error: "is required (a Standard Webhooks secret, whsec_…, shared with Nubabel)" })
    .refine(Webhooks.isSecret, "must be a Standard Webhooks secret: whsec_ followed by at least 24 bytes in base64"),
  NUBABEL_CALLBACK_URL: z.url().default("http://127.0.0.1:3000"),
  SIDECAR_DATA_DIR: z.string().default(".data/sidecar"),
  /** Categories and skills; unset → built-in defaults. */
  SIDECAR_CONFIG: optionalString,
  /** Attach to a running `opencode serve` instead of supervising one. */
  OPENCODE_URL: optionalString.pipe(z.url().optional()),
  OPENCODE_SERVER_PASSWORD: optionalString,
  /** An OpenCode config file merged under ours (providers, agents, anything else). */
  OPENCODE_CONFIG: optionalString,
  MODEL_BASE_URL: optionalString.pipe(z.url().optional()),
  MODEL_NAME: optionalString,
  MODEL_API_KEY: optionalString,
  /**
   * What the `MODEL_BASE_URL` model costs, in USD per million tokens, so the engine reports a cost
   * for its runs (it knows no price for a custom provider and says 0 otherwise). A price left
   * unset is 0, as the engine counts it.
   */
  MODEL_COST_INPUT: price,
  MODEL_COST_OUTPUT: price,
  MODEL_COST_CACHE_READ: price,
  MODEL_COST_CACHE_WRITE: price,
  ANTHROPIC_API_KEY: optionalString,
  /** Redis for bindings, runs and replay ids across sidecar restarts; unset → in-process. */
  REDIS_URL: optionalString.pipe(z.url().optional()),
  REDIS_PREFIX: z.string().default("sidecar:"),
  /** Longest a single turn may run before it is aborted and answered as an error. */
  RUN_TIMEOUT_MS: int(10 * 60_000),
  ENGINE_START_TIMEOUT_MS: int(30_000),
  /** How long a new run waits for an engine that is starting or restarting before it is refused (503). */
  ENGINE_WAIT_MS: z.coerce.number().int().min(0).default(5_000),
  /** At shutdown, how long running turns may go on before they are aborted. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).default(20_000),
  ENGINE_REQUEST_TIMEOUT_MS: int(15_000),
  /** An engine that answers nothing (not even its health call) this long is killed and restarted; 0: never. */
  ENGINE_UNRESPONSIVE_MS: z.coerce
    .number()
    .int()
    .refine((ms) => ms === 0 || ms >= 1_000, "must be 0 (off) or at least 1000: shorter, an engine loading a folder would be killed")
    .default(60_000),
  /** Most engine instances (one per organization's workspace) kept loaded; idle ones go first. */
  ENGINE_MAX_INSTANCES: int(32),
  /** How many concurrent runs this sidecar is sized for: Nubabel weighs placement by it (not a limit). */
  SIDECAR_CAPACITY: int(100),
  /** An organization's engine instance unused this long is unloaded (its sessions stay). */
  ENGINE_INSTANCE_IDLE_MS: int(600_000),
  /** The engine is restarted when idle and its resident memory is over this (MB). */
  ENGINE_MAX_RSS_MB: int(2048),
  CALLBACK_TIMEOUT_MS: int(5_000),
  CALLBACK_RETRIES: z.coerce.number().int().min(0).max(10).default(3),
  /** Longest a tool call through Nubabel (`nubabel_mcp_invoke`) may take. */
  MCP_TIMEOUT_MS: int(60_000),
  /** Prompts waiting behind a running one, per session; more is a 429. */
  SESSION_QUEUE_LIMIT: int(8),
  /** Minimum gap between two `message_updated` progress posts of one run. */
  PROGRESS_TEXT_INTERVAL_MS: int(250),
  PROGRESS_BATCH_MS: int(50),
  BODY_LIMIT_BYTES: int(1_048_576),
  REQUEST_TIMEOUT_MS: int(30_000),
  /** The agent's shell: in bubblewrap per organization, or (single-tenant hosts only) as is. */
  SANDBOX: z.enum(["bwrap", "off"]).default("bwrap"),
  /** `on`: OhMyOpenCode (the optional dependency `oh-my-opencode`) is loaded into the engine, offline. */
  SIDECAR_OMO: z.enum(["on", "off"]).default("off"),
  /** `none`: sandboxed commands have no network at all; `host`: they share the host's. */
  SANDBOX_NETWORK: z.enum(["none", "host"]).default("none"),
  /** The bubblewrap program, by name (looked up on PATH) or path. */
  SANDBOX_BWRAP: z.string().min(1).default("bwrap"),
  /** Bounds on one sandboxed command: run time, memory it may allocate, output kept. */
  SANDBOX_TIMEOUT_MS: int(5 * 60_000),
  SANDBOX_MEMORY_MB: int(2_048),
  SANDBOX_OUTPUT_BYTES: int(1_048_576),
  /** The engine's `webfetch` tool: denied, or allowed to public addresses only (see AGENT_ALLOW_URLS). */
  AGENT_WEBFETCH: z.enum(["deny", "allow"]).default("deny"),
  /**
   * Hosts and ranges (comma-separated names, IPs or CIDRs) the agent's URL tools may reach even
   * though they are loopback or private; everything else private stays refused.
   */
  AGENT_ALLOW_URLS: z
    .string()
    .default("")
    .superRefine((value, ctx) => {
      try {
        parseAllowList(value);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
      }
    }),
  /** Proxies for the engine's own outbound calls (its model provider), passed to it as is. */
  HTTPS_PROXY: z.string().optional(),
  HTTP_PROXY: z.string().optional(),
  NO_PROXY: z.string().optional(),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** An OTLP/HTTP collector's base URL: traces are exported there; unset, tracing is off. */
  OTEL_EXPORTER_OTLP_ENDPOINT: optionalString.pipe(z.url().optional()),
  /** The `service.name` of this service's spans. */
  OTEL_SERVICE_NAME: z.string().trim().min(1).default("opencode-sidecar"),
  /** `GET /metrics` behind this bearer token (off when unset); on `METRICS_HOST:METRICS_PORT` when a port is set. */
  ...METRICS_ENV,
});
export type Env = z.infer<typeof Env>;

export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** Parses the environment; throws `ConfigError` naming every bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = Env.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid sidecar configuration:\n${lines.join("\n")}`);
  }
  const env = result.data;
  if ((env.MODEL_BASE_URL && !env.MODEL_NAME) || (!env.MODEL_BASE_URL && env.MODEL_NAME)) {
    throw new ConfigError("Invalid sidecar configuration:\n  MODEL_BASE_URL and MODEL_NAME must be set together");
  }
  const metrics = metricsEnvProblem(env);
  if (metrics) throw new ConfigError(`Invalid sidecar configuration:\n  METRICS_HOST: ${metrics}`);
  // Relative to where npm was invoked (INIT_CWD), so `npm start` and `npm run sidecar` share one folder.
  const base = source.INIT_CWD ?? process.cwd();
  return { ...env, SIDECAR_DATA_DIR: path.resolve(base, env.SIDECAR_DATA_DIR) };
}

/** The process environment: the one place that reads it. */
export function loadProcessEnv(): Record<string, string | undefined> {
  return process.env;
}

/** The few variables a child process needs to run at all; never the sidecar's secrets. */
export function systemEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of ["PATH", "LANG", "LC_ALL", "TZ", "TMPDIR"]) {
    const value = process.env[key];
    if (value) out[key] = value;
  }
  return out;
}
