import { z } from "zod";

/**
 * Nubabel's probes, for orchestrators and people: `/livez`, `/readyz` and `/health`. Nubabel is
 * ready when the database, Redis (when configured) and a sidecar answer; Slack is shown but never
 * gates it. Every check is bounded in time, so a hung dependency fails its check, never the probe.
 */

/** One sidecar in the health report; `runs`/`capacity` are its load, `draining` that it takes no new runs. */
export const SidecarEntry = z.object({
  ok: z.boolean(),
  url: z.string(),
  status: z.string().optional(),
  /** Its OpenCode engine's state. */
  engine: z.string().optional(),
  /** What the agent's shell commands run in there (sandboxed, refused or unsandboxed). */
  sandbox: z.string().optional(),
  draining: z.boolean().optional(),
  runs: z.number().int().nonnegative().optional(),
  capacity: z.number().int().optional(),
  error: z.string().optional(),
  /** What the sidecar says is wrong even while it answers (no model configured, the shell refused). */
  problems: z.array(z.string()).optional(),
});
export type SidecarEntry = z.infer<typeof SidecarEntry>;

/** Each dependency's check, as `/readyz` and `/health` report them: `ok`, and `error` saying why when not. */
export const HealthReport = z.object({
  database: z.object({ ok: z.boolean(), kind: z.string(), error: z.string().optional() }),
  redis: z.object({ ok: z.boolean(), mode: z.enum(["redis", "in-process"]), error: z.string().optional() }),
  /**
   * `ok` only when the sidecar says `healthy`, i.e. its OpenCode engine runs. With several
   * sidecars: the first that can take new sessions (else the first), and `sidecars` lists each.
   */
  sidecar: SidecarEntry,
  sidecars: z.array(SidecarEntry).optional(),
  /** Present when the Slack bot is configured: a revoked token or an outage shows here, not only in logs. */
  slack: z
    .object({ ok: z.boolean(), mode: z.enum(["http", "socket"]), botUserId: z.string().optional(), error: z.string().optional() })
    .optional(),
});
export type HealthReport = z.infer<typeof HealthReport>;

/** The checks that gate readiness, in the order a person should fix them. */
export const ReadinessGate = z.enum(["database", "redis", "sidecar"]);
export type ReadinessGate = z.infer<typeof ReadinessGate>;

/** `GET /livez`: 200 while the process serves HTTP. */
export const Liveness = z.object({ status: z.literal("alive") });
export type Liveness = z.infer<typeof Liveness>;

/** `GET /readyz`: 200 `ready`, or 503 `not_ready` naming in `missing` what is not. */
export const Readiness = z.union([
  HealthReport.extend({ status: z.literal("ready") }),
  HealthReport.extend({ status: z.literal("not_ready"), missing: z.array(ReadinessGate).min(1) }),
]);
export type Readiness = z.infer<typeof Readiness>;

/** `GET /health`: 200 `healthy`, else 503 `degraded`, or `unhealthy` when the database, which nothing works without, is down. */
export const NubabelHealth = HealthReport.extend({ status: z.enum(["healthy", "degraded", "unhealthy"]) });
export type NubabelHealth = z.infer<typeof NubabelHealth>;
