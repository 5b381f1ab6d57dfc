import type { FastifyPluginAsync } from "fastify";
import type { SidecarHealth } from "@nubabel/contracts";
import type { Engine } from "../../engine/engine.js";

export interface HealthDeps {
  engine: Engine;
  model: string | null;
}

export function healthRoutes(deps: HealthDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/health", async (_req, reply) => {
      const up = deps.engine.endpoint() !== undefined;
      const problems: string[] = [];
      if (!up) problems.push(`the OpenCode engine is ${deps.engine.state}`);
      if (!deps.model) problems.push("no model configured: set MODEL_BASE_URL and MODEL_NAME, or ANTHROPIC_API_KEY, or OPENCODE_CONFIG");
      const body: SidecarHealth = {
        status: up ? "healthy" : "degraded",
        opencode: {
          enabled: true,
          state: deps.engine.state,
          version: deps.engine.version,
          model: deps.model,
          restarts: deps.engine.restarts,
        },
        ...(problems.length ? { problems } : {}),
      };
      return reply.status(up ? 200 : 503).send(body);
    });
  };
}
