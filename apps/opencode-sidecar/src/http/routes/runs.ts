import type { FastifyPluginAsync } from "fastify";
import { RunParams, type SidecarRun } from "@nubabel/contracts";
import { toSidecarRun } from "../../runs/run.js";
import type { Runner } from "../../runs/runner.js";
import { parse } from "../validate.js";

export interface RunRouteDeps {
  runner: Runner;
}

/** `GET /runs/:runId` (signed): a run this sidecar ran, finished or not. */
export function runRoutes(deps: RunRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/runs/:runId", async (req): Promise<SidecarRun> => {
      const { runId } = parse(RunParams, req.params);
      return toSidecarRun(await deps.runner.get(runId));
    });
  };
}
