import type { Run } from "./run.js";

/**
 * Where runs are recorded, so `GET /runs/:runId` answers after a run ended and after a restart.
 * Records lapse after a day. Throws `StoreUnavailableError` when the store cannot be reached.
 */
export interface RunStore {
  get(runId: string): Promise<Run | undefined>;
  /** Records a new run; false (and nothing written) when one with this id exists already. */
  create(run: Run): Promise<boolean>;
  /** Writes the run's current state over the stored one. */
  save(run: Run): Promise<void>;
}

/** How long a run stays readable. */
export const RUN_TTL_SECONDS = 24 * 3600;

/** The store behind runs (Redis) did not answer. */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
}
