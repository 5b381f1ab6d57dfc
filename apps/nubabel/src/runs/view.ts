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
  const view = toApi(run, position);
  const shown: ApiRun = run.status === "running" && approvals.some((a) => a.status === "pending") ? { ...view, status: "waiting_approval" } : view;
  return approvals.length ? { ...shown, approvals } : shown;
}
