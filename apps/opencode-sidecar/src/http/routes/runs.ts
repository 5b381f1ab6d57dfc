import type { FastifyPluginAsync } from "fastify";
import { DrainRequest, type DrainState, PermissionReply, PermissionReplyParams, type PermissionReplyResult, RunParams, type SidecarRun } from "@nubabel/contracts";
import type { PermissionGate } from "../../approvals/permission-gate.js";
import { toSidecarRun } from "../../runs/run.js";
import type { Runner } from "../../runs/runner.js";
import { parse } from "../validate.js";

export interface RunRouteDeps {
  runner: Runner;
  permissions: Pick<PermissionGate, "reply">;
}

/**
 * `GET /runs/:runId` (signed): a run this sidecar ran, finished or not. `POST /drain` (signed):
 * no new runs here (a deploy), or serving again; running runs go on either way.
 * `POST /runs/:runId/approvals/:requestId` (signed): Nubabel's decision on a tool call of the run
 * that waits for a person; `{replied: false}` when nothing waits on that request (any more), so
 * Nubabel may repeat a decision safely.
 */
export function runRoutes(deps: RunRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.get("/runs/:runId", async (req): Promise<SidecarRun> => {
      const { runId } = parse(RunParams, req.params);
      return toSidecarRun(await deps.runner.get(runId));
    });

    app.post("/runs/:runId/approvals/:requestId", async (req): Promise<PermissionReplyResult> => {
      const { runId, requestId } = parse(PermissionReplyParams, req.params);
      const decision = parse(PermissionReply, req.body);
      return { replied: await deps.permissions.reply(runId, requestId, decision) };
    });

    app.post("/drain", async (req): Promise<DrainState> => deps.runner.setDrained(parse(DrainRequest, req.body).drain));
  };
}
