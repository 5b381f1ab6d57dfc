import type { FastifyPluginAsync } from "fastify";
import { DrainRequest, type DrainState, RunParams, type SidecarRun } from "@nubabel/contracts";
import { toSidecarRun } from "../../runs/run.js";
import type { Runner } from "../../runs/runner.js";
import { parse } from "../validate.js";

export interface RunRouteDeps {
  runner: Runner;
}

/**
 * `GET /runs/:runId` (signed): a run this sidecar ran, finished or not. `POST /drain` (signed):
 * no new runs here (a deploy), or serving again; running runs go on either way.
 */
export function runRoutes(deps: RunRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/runs/:runId", async (req): Promise<SidecarRun> => {
      const { runId } = parse(RunParams, req.params);
      return toSidecarRun(await deps.runner.get(runId));
    });

    app.post("/drain", async (req): Promise<DrainState> => deps.runner.setDrained(parse(DrainRequest, req.body).drain));
  };
}
