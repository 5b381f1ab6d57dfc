import type { ApiRun, Approval } from "@nubabel/contracts";
import { toApi, type Run } from "./run.js";

/** Where the full view of a run finds what the run record does not hold. */
export interface RunViewSources {
  queuePosition(run: Run): Promise<number | undefined>;
  approvals: { forRun(organizationId: string, runId: string): Promise<Approval[]> };
}

/**
 * The run as `GET /api/runs/:runId` shows it, with its approvals; a running run whose tool call
 * waits for a person shows as `waiting_approval`. Webhooks send this same view as their `data`.
 */
export async function viewRun(run: Run, sources: RunViewSources): Promise<ApiRun> {
  const [position, approvals] = await Promise.all([sources.queuePosition(run), sources.approvals.forRun(run.organizationId, run.id)]);
  const shown = withWaiting(run, toApi(run, position), approvals.some((a) => a.status === "pending"));
  return approvals.length ? { ...shown, approvals } : shown;
}

/** `view` as the API shows it: a running run with an approval pending is `waiting_approval`. */
export function withWaiting(run: Run, view: ApiRun, pending: boolean): ApiRun {
  return run.status === "running" && pending ? { ...view, status: "waiting_approval" } : view;
}
