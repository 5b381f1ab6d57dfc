export { Runs, type RunsDeps, type SubmitInput } from "./runs.js";
export { Reconciler, type ReconcilerOptions } from "./reconciler.js";
export { RunNotFound, RunQueueFull, OpencodeSessionLost } from "./errors.js";
export { toApi, type Run, type Origin, type Ending } from "./run.js";
export { toDelegateResponse } from "./outcome.js";
export type { RunStore, Limits, RunOutbox, RunEventType, SpendGate } from "./ports.js";
export { viewRun, withWaiting, type RunViewSources } from "./view.js";
