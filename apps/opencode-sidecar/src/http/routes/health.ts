import type { FastifyPluginAsync } from "fastify";
import type { SandboxHealth, SidecarHealth } from "@nubabel/contracts";
import type { Engine } from "../../engine/engine.js";

export interface HealthDeps {
  engine: Engine;
  model: string | null;
  /** Present when the sidecar uses Redis: resolves when it answers, rejects saying why not. */
  pingRedis?: () => Promise<void>;
  /** True once shutdown began. */
  draining: () => boolean;
  /** What the agent's shell runs in; absent for an attached engine. */
  sandbox?: SandboxHealth;
  omo?: SidecarHealth["omo"];
  /** Engine instances loaded now (one per organization's workspace in use). */
  instances?: () => number;
  /** The supervised engine's memory and planned restarts. */
  memory?: () => { rssBytes: number | undefined; recycles: number };
  /** Runs here now, and the runs this sidecar is sized for (`SIDECAR_CAPACITY`). */
  load: () => { runs: number; capacity: number };
}

/** `GET /health`: 200 only when a run could be served now (engine up, Redis answering, not draining). */
export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/health", async (_req, reply) => {
      const up = deps.engine.endpoint() !== undefined;
      const draining = deps.draining();
      const redis: SidecarHealth["redis"] = deps.pingRedis
        ? await deps.pingRedis().then(
            () => ({ ok: true }),
            (err: Error) => ({ ok: false, error: err.message }),
          )
        : undefined;
      const problems: string[] = [];
      if (!up) problems.push(`the OpenCode engine is ${deps.engine.state}`);
      if (!deps.model) problems.push("no model configured: set MODEL_BASE_URL and MODEL_NAME, or ANTHROPIC_API_KEY, or OPENCODE_CONFIG");
      if (redis && !redis.ok) problems.push(`Redis does not answer: ${redis.error}`);
      if (draining) problems.push("the sidecar is drained or shutting down: it takes no new runs");
      if (deps.sandbox?.shell === "refused") problems.push(`the agent's shell commands are refused: ${deps.sandbox.reason}`);
      const healthy = up && !draining && (redis?.ok ?? true);
      const body: SidecarHealth = {
        status: healthy ? "healthy" : "degraded",
        opencode: {
          enabled: true,
          state: deps.engine.state,
          version: deps.engine.version,
          model: deps.model,
          restarts: deps.engine.restarts,
          ...(deps.instances ? { instances: deps.instances() } : {}),
          ...memoryOf(deps.memory?.()),
        },
        ...(problems.length ? { problems } : {}),
        ...(redis ? { redis } : {}),
        ...(draining ? { draining: true } : {}),
        load: deps.load(),
        ...(deps.sandbox ? { sandbox: deps.sandbox } : {}),
        ...(deps.omo ? { omo: deps.omo } : {}),
      };
      return reply.status(healthy ? 200 : 503).send(body);
    });
  };
}

function memoryOf(memory: { rssBytes: number | undefined; recycles: number } | undefined): { rssBytes?: number; recycles?: number } {
  if (!memory) return {};
  return { ...(memory.rssBytes !== undefined ? { rssBytes: memory.rssBytes } : {}), recycles: memory.recycles };
}
