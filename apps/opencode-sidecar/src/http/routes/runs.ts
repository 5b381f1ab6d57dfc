import type { FastifyPluginAsync } from "fastify";
import {
  DrainRequest,
  type DrainState,
  PermissionReply,
  PermissionReplyParams,
  type PermissionReplyResult,
  RunParams,
  RunsQuery,
  type RunsQueryAnswer,
  type SidecarRun,
} from "@nubabel/contracts";
import type { PermissionGate } from "../../approvals/permission-gate.js";
import { toSidecarRun } from "../../runs/run.js";
import { RunNotFoundError } from "../../runs/errors.js";
import type { Runner } from "../../runs/runner.js";
import { parse } from "../validate.js";

export interface RunRouteDeps {
  runner: Runner;
  permissions: Pick<PermissionGate, "reply">;
}

/**
 * `GET /runs/:runId` (signed): a run this sidecar ran, finished or not; `POST /runs/query`
 * (signed): those of up to 200 runs it knows, one request for all a Nubabel checks. `POST /drain` (signed):
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

    app.post("/runs/query", async (req): Promise<RunsQueryAnswer> => {
      const { runIds } = parse(RunsQuery, req.body);
      const runs: SidecarRun[] = [];
      // One after another: a run still live is a lookup, a finished one a read of the run store.
      for (const runId of new Set(runIds)) {
        try {
          runs.push(toSidecarRun(await deps.runner.get(runId)));
        } catch (err) {
          if (!(err instanceof RunNotFoundError)) throw err;
        }
      }
      return { runs };
    });

    app.post("/runs/:runId/approvals/:requestId", async (req): Promise<PermissionReplyResult> => {
      const { runId, requestId } = parse(PermissionReplyParams, req.params);
      const decision = parse(PermissionReply, req.body);
      return { replied: await deps.permissions.reply(runId, requestId, decision) };
    });

    app.post("/drain", async (req): Promise<DrainState> => deps.runner.setDrained(parse(DrainRequest, req.body).drain));
  };
}
