import { isFinished, type DelegateResponse, type ProgressEvent, type RunState } from "@nubabel/contracts";
import type { NubabelPort, TurnRequest, TurnRun } from "../../src/slack/index.js";

/** What a scripted turn may do: emit progress, wait to be aborted, answer or throw. */
export interface TurnScript {
  (turn: TurnRequest, tools: { emit(event: ProgressEvent): void; aborted: Promise<void> }): Promise<DelegateResponse>;
}

interface FakeRun {
  run: TurnRun;
  turn: TurnRequest;
  abort?: () => void;
  outcome?: { response: DelegateResponse } | { error: unknown };
  ended: Promise<TurnRun>;
  end: (run: TurnRun) => void;
}

/**
 * A stand-in for Nubabel's runs behind `NubabelPort`, as the core keeps them: a submitted turn is a
 * run, queued while its organization is at `maxRunning` or an earlier run of its session is
 * unfinished, then run from a script a test chooses. It records submissions, starts, aborts,
 * stored progress messages and delivery claims (true once per run), feeds progress (tagged with
 * the run id) to watchers, and tells `onFinished` listeners when a run ends.
 */
export class FakeNubabel implements NubabelPort {
  /** Every submitted turn, in order. */
  readonly delegations: TurnRequest[] = [];
  /** Turns whose run started (reached the "agent"), in order. */
  readonly started: TurnRequest[] = [];
  readonly aborts: Array<{ organizationId: string; sessionId: string }> = [];
  /** Progress message ts stored per run. */
  readonly progressMessages = new Map<string, string>();
  /** Claims of each run's delivery, granted or not. */
  readonly claims: Array<{ runId: string; granted: boolean }> = [];
  /** Runs allowed to run at once (the organization's limit); the rest wait queued. */
  maxRunning = Number.POSITIVE_INFINITY;
  /** When set, `submit` rejects with it (a full queue, an outage). */
  submitError: Error | undefined;
  readonly runs: FakeRun[] = [];
  private readonly watchers = new Map<string, Set<(event: ProgressEvent) => void>>();
  private readonly listeners: Array<(run: TurnRun) => void> = [];
  private readonly delivered = new Set<string>();
  private seq = 0;
  script: TurnScript = async (turn, { emit }) => {
    emit(event({ type: "status", data: { status: "busy" } }));
    emit(event({ type: "tool_started", data: { tool: "nubabel_mcp_invoke", callId: "c1", input: { provider: "notion", toolName: "search" } } }));
    // Longer than the harness's update interval, so the tool shows before the answer replaces it.
    await new Promise((r) => setTimeout(r, 300));
    return response(turn, `Answer to **${turn.prompt}**`);
  };

  async submit(turn: TurnRequest): Promise<TurnRun> {
    if (this.submitError) throw this.submitError;
    this.delegations.push(turn);
    let end!: (run: TurnRun) => void;
    const ended = new Promise<TurnRun>((resolve) => (end = resolve));
    const entry: FakeRun = {
      run: { id: `run_fake${++this.seq}`, organizationId: turn.organizationId, sessionId: turn.sessionId, status: "queued", origin: { ...turn.origin }, startedAt: null, finishedAt: null },
      turn,
      ended,
      end,
    };
    this.runs.push(entry);
    this.pump();
    return { ...entry.run };
  }

  async wait(run: TurnRun, signal?: AbortSignal): Promise<TurnRun> {
    const entry = this.entry(run.id);
    if (!signal) return entry.ended;
    return Promise.race([
      entry.ended,
      new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      }),
    ]);
  }

  async run(organizationId: string, runId: string): Promise<TurnRun> {
    const entry = this.entry(runId);
    if (entry.run.organizationId !== organizationId) throw Object.assign(new Error(`run ${runId} not found`), { name: "RunNotFound" });
    return { ...entry.run, origin: { ...entry.run.origin } };
  }

  async state(run: TurnRun): Promise<{ status: RunState; queuePosition?: number }> {
    const { status } = this.entry(run.id).run;
    const queued = this.runs.filter((r) => r.run.status === "queued");
    return { status, ...(status === "queued" ? { queuePosition: queued.findIndex((r) => r.run.id === run.id) + 1 } : {}) };
  }

  async answer(run: TurnRun): Promise<DelegateResponse> {
    const outcome = this.entry(run.id).outcome;
    if (!outcome) throw new Error(`run ${run.id} has not ended`);
    if ("error" in outcome) throw outcome.error;
    return outcome.response;
  }

  async abort(input: { organizationId: string; sessionId: string }): Promise<boolean> {
    this.aborts.push(input);
    const unfinished = this.runs.filter((r) => r.turn.sessionId === input.sessionId && !isFinished(r.run.status));
    for (const r of [...unfinished].reverse()) {
      if (r.run.status === "queued") this.finish(r, "aborted", { response: response(r.turn, "", "aborted") });
      else r.abort?.();
    }
    return unfinished.length > 0;
  }

  async watchProgress(_organizationId: string, sessionId: string, onEvent: (event: ProgressEvent) => void): Promise<() => Promise<void>> {
    const set = this.watchers.get(sessionId) ?? new Set();
    set.add(onEvent);
    this.watchers.set(sessionId, set);
    return async () => void set.delete(onEvent);
  }

  async setProgressMessage(runId: string, ts: string): Promise<void> {
    this.progressMessages.set(runId, ts);
    const origin = this.entry(runId).run.origin;
    if (origin.kind === "slack") origin.progressTs = ts;
  }

  async claimDelivery(runId: string): Promise<boolean> {
    const granted = !this.delivered.has(runId);
    this.delivered.add(runId);
    this.claims.push({ runId, granted });
    return granted;
  }

  /** Like `runs.onFinished`: called with each run as it ends. */
  onFinished(listener: (run: TurnRun) => void): void {
    this.listeners.push(listener);
  }

  emit(sessionId: string, e: ProgressEvent): void {
    for (const watcher of this.watchers.get(sessionId) ?? []) watcher(e);
  }

  private entry(runId: string): FakeRun {
    const entry = this.runs.find((r) => r.run.id === runId);
    if (!entry) throw Object.assign(new Error(`run ${runId} not found`), { name: "RunNotFound" });
    return entry;
  }

  /** Starts the queued runs that may start, oldest first, as the core's admission does. */
  private pump(): void {
    for (const [i, r] of this.runs.entries()) {
      if (r.run.status !== "queued") continue;
      if (this.runs.filter((o) => o.run.status === "running").length >= this.maxRunning) return;
      const earlier = this.runs.slice(0, i).some((o) => o.turn.sessionId === r.turn.sessionId && !isFinished(o.run.status));
      if (!earlier) this.start(r);
    }
  }

  private start(r: FakeRun): void {
    r.run.status = "running";
    r.run.startedAt = new Date();
    this.started.push(r.turn);
    const aborted = new Promise<void>((resolve) => (r.abort = resolve));
    const emit = (e: ProgressEvent) => this.emit(r.turn.sessionId, { ...e, runId: r.run.id });
    this.script(r.turn, { emit, aborted }).then(
      (res) => this.finish(r, res.status === "success" ? "completed" : res.status === "aborted" ? "aborted" : "failed", { response: res }),
      (error: unknown) => this.finish(r, "failed", { error }),
    );
  }

  private finish(r: FakeRun, status: RunState, outcome: NonNullable<FakeRun["outcome"]>): void {
    if (isFinished(r.run.status)) return;
    r.run.status = status;
    r.run.finishedAt = new Date();
    r.outcome = outcome;
    const snapshot = { ...r.run, origin: { ...r.run.origin } };
    r.end(snapshot);
    for (const listener of this.listeners) listener(snapshot);
    this.pump();
  }
}

export function event(e: Omit<ProgressEvent, "timestamp">): ProgressEvent {
  return { ...e, timestamp: new Date().toISOString() } as ProgressEvent;
}

export function response(turn: TurnRequest, output: string, status: DelegateResponse["status"] = "success"): DelegateResponse {
  return { output, status, metadata: { model: "scripted", opencodeSessionId: `oc_${turn.sessionId}`, nubabelSessionId: turn.sessionId } };
}
