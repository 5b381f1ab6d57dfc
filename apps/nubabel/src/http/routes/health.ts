import { ReadinessGate, type Liveness, type NubabelHealth, type Readiness, type SidecarHealth } from "@nubabel/contracts";
import type { FastifyInstance } from "fastify";
import type { HealthReport, HttpDeps } from "../deps.js";

/** What the health report asks, each a promise that settles; built in `main.ts`. */
export interface HealthProbes {
  /** Bound on every check: a hung database or sidecar makes its check fail, never the endpoint hang. */
  timeoutMs: number;
  database: { kind: string; ping(): Promise<void> };
  redis: { mode: "redis" | "in-process"; ping(): Promise<void> };
  /** Every sidecar of the pool, asked live (not the pool's last heartbeat), so readiness is the truth now. */
  sidecars: Array<{ url: string; health(): Promise<SidecarHealth> }>;
  /** The bot's own status (it starts in the background); undefined without Slack. */
  slack(): { mode: "http" | "socket"; ready: boolean; botUserId?: string; error?: string } | undefined;
}


/** Runs every probe at once, each within `timeoutMs`, and says what answered. */
export function healthCheck(probes: HealthProbes): () => Promise<HealthReport> {
  const bounded = <T>(what: string, check: () => Promise<T>) => within(probes.timeoutMs, what, check);
  return async () => {
    const [db, redis, ...sides] = await Promise.allSettled([
      bounded("the database", () => probes.database.ping()),
      bounded("Redis", () => probes.redis.ping()),
      ...probes.sidecars.map((s) => bounded("the sidecar", () => s.health())),
    ]);
    const slack = probes.slack();
    const sidecars = sides.map((side, i) => sidecarEntry(probes.sidecars[i]!.url, side as PromiseSettledResult<SidecarHealth>));
    return {
      database: { ok: db.status === "fulfilled", kind: probes.database.kind, ...failure(db) },
      redis: { ok: redis.status === "fulfilled", mode: probes.redis.mode, ...failure(redis) },
      // Ready while one sidecar can take new sessions; each one is listed when there are several.
      sidecar: sidecars.find((s) => s.ok) ?? sidecars[0]!,
      ...(sidecars.length > 1 ? { sidecars } : {}),
      ...(slack
        ? {
            slack: {
              ok: slack.ready,
              mode: slack.mode,
              ...(slack.botUserId ? { botUserId: slack.botUserId } : {}),
              ...(slack.error ? { error: slack.error } : {}),
            },
          }
        : {}),
    };
  };
}

/** The gating checks that are not `ok`: empty means ready. */
export function notReady(report: HealthReport): ReadinessGate[] {
  return ReadinessGate.options.filter((gate) => !report[gate].ok);
}

/**
 * `GET /livez` (no auth): 200 while the process serves HTTP. `GET /readyz` (no auth): 200 only when
 * the database, Redis (when set) and a sidecar whose engine runs answer, else 503 naming in
 * `missing` what is not. `GET /health` (no auth): the same report and status code, with
 * `healthy` / `degraded` / `unhealthy` (the database, which nothing works without, is down).
 * The probes log at `warn` only: orchestrators poll them every few seconds.
 */
export function healthRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get("/livez", { logLevel: "warn" }, async (_request, reply) => reply.send({ status: "alive" } satisfies Liveness));

  app.get("/readyz", { logLevel: "warn" }, async (_request, reply) => {
    const report = await deps.health();
    const missing = notReady(report);
    if (missing.length) return reply.status(503).send({ status: "not_ready", missing, ...report } satisfies Readiness);
    return reply.send({ status: "ready", ...report } satisfies Readiness);
  });

  app.get("/health", async (_request, reply) => {
    const report = await deps.health();
    const ready = notReady(report).length === 0;
    const status = ready ? "healthy" : report.database.ok ? "degraded" : "unhealthy";
    return reply.status(ready ? 200 : 503).send({ status, ...report } satisfies NubabelHealth);
  });
}

function sidecarEntry(url: string, side: PromiseSettledResult<SidecarHealth>): HealthReport["sidecar"] {
  if (side.status === "rejected") return { ok: false, url, error: why(side.reason) };
  const health = side.value;
  const ok = health.status === "healthy";
  return {
    ok,
    url,
    status: health.status,
    engine: health.opencode.state,
    ...(health.sandbox ? { sandbox: health.sandbox.shell } : {}),
    ...(health.draining ? { draining: true } : {}),
    ...(health.load ? { runs: health.load.runs, capacity: health.load.capacity } : {}),
    ...(ok ? {} : { error: health.problems?.join("; ") ?? `the OpenCode engine is ${health.opencode.state}` }),
    ...(health.problems?.length ? { problems: health.problems } : {}),
  };
}

/** `fetch failed` alone says nothing; its cause (`ECONNREFUSED`, …) does. */
function why(reason: unknown): string {
  if (!(reason instanceof Error)) return String(reason);
  const cause = reason.cause as { code?: string; message?: string } | undefined;
  const detail = cause?.code ?? cause?.message;
  return detail && !reason.message.includes(detail) ? `${reason.message} (${detail})` : reason.message;
}

function failure(result: PromiseSettledResult<unknown>): { error?: string } {
  return result.status === "rejected" ? { error: why(result.reason) } : {};
}

async function within<T>(ms: number, what: string, check: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([check(), late]);
  } finally {
    clearTimeout(timer);
  }
}
