import { type ApprovalRequirements, type DelegateRequest, type DrainState, type ErrorInfo, type HistoryMessage, Ids, isFinished, type PromptRequest, type RunAccepted, Waits } from "@nubabel/contracts";
import type { Tracing } from "@nubabel/telemetry";
import type { GatedRun } from "../approvals/permission-gate.js";
import { type Binding, type BindingStore, boundAncestor } from "../bindings/binding.js";
import type { CallbackClient } from "../callbacks/client.js";
import type { Outbox } from "../callbacks/outbox.js";
import { SessionReporter } from "../callbacks/reporter.js";
import type { Catalog, Selection } from "../catalog/catalog.js";
import type { EngineDriver } from "../engine/driver.js";
import { type Engine, EngineDownError } from "../engine/engine.js";
import type { EngineInstances } from "../engine/instances.js";
import type { Logger } from "../logger.js";
import type { Workspaces } from "../workspaces/workspaces.js";
import { DrainingError, NoModelError, PluginMissingError, RunNotFoundError, SessionNotFoundError } from "./errors.js";
import { RunExecution } from "./execution.js";
import type { RunStore } from "./run-store.js";
import * as Runs from "./run.js";
import { SessionQueue } from "./session-queue.js";

export interface RunnerOptions {
  driver: EngineDriver;
  engine: Engine;
  bindings: BindingStore;
  runs: RunStore;
  catalog: Catalog;
  callbacks: CallbackClient;
  outbox: Outbox;
  workspaces: Workspaces;
  /** The default model, or null when none is configured. */
  model: string | null;
  runTimeoutMs: number;
  queueLimit: number;
  instances: EngineInstances;
  textIntervalMs: number;
  /** How long a session's first progress event waits for others to share its callback. */
  progressBatchMs: number;
  /** How long a new run waits for an engine that is (re)starting before it is refused. */
  engineWaitMs: number;
  /** Check that the bridge plugin is loaded in a workspace before its first session (our own engine). */
  requirePlugin: boolean;
  log: Logger;
  /** Told of each run this process ends (metrics); synchronous and never awaited. */
  onFinished?: (run: Runs.Run) => void;
}

/** A run as its caller holds it: how it stood when accepted, and its end. */
export interface RunHandle {
  accepted: RunAccepted;
  /** Settles with the finished run; never rejects. */
  finished: Promise<Runs.Run>;
}

/** A shutdown's timing: how long running turns may go on, and how long results may take to arrive. */
export interface CloseOptions {
  graceMs: number;
  deliveryWaitMs: number;
}

const SHUTTING_DOWN: ErrorInfo = { code: "shutting_down", message: "the sidecar is shutting down" };

/**
 * Delegations and follow-ups as runs: binds OpenCode sessions to Nubabel's, admits each run once by
 * its id, runs turns one at a time per session, and answers for runs it ran (from the store after
 * they ended). Lifecycle: `serving` → `draining` (no new runs) → `closed`.
 */
export class Runner {
  private state: "serving" | "draining" | "closed" = "serving";
  /** Drained for a deploy (`POST /drain`): no new runs, running ones go on; undone by `setDrained(false)`. */
  private drainedForDeploy = false;
  private closing: Promise<void> | undefined;
  private readonly queue: SessionQueue;
  private readonly reporters = new Map<string, SessionReporter>();
  /** The runs this process is running or holding in a session's line. */
  private readonly live = new Map<string, { execution: RunExecution; finished: Promise<Runs.Run> }>();
  private readonly admitting = new Map<string, Promise<RunHandle>>();
  /** Workspaces whose loaded instance was seen to carry our plugin (forgotten when it unloads). */
  private readonly pluginSeen = new Set<string>();

  constructor(private readonly o: RunnerOptions) {
    this.queue = new SessionQueue(o.queueLimit);
    // A (re)started engine loads every instance afresh: each is checked again.
    o.engine.on("up", () => this.pluginSeen.clear());
  }

  /** `directory`'s instance was unloaded: the next one loaded there is checked again. */
  instanceUnloaded(directory: string): void {
    this.pluginSeen.delete(directory);
  }

  get draining(): boolean {
    return this.state !== "serving" || this.drainedForDeploy;
  }

  /** Runs here now: running, or waiting in their session's line. */
  get load(): number {
    return this.live.size;
  }

  /**
   * Drains for a deploy (`on`), or serves again: a drained sidecar refuses new runs (503
   * `draining`, so Nubabel places them elsewhere) and lets running ones finish.
   */
  setDrained(on: boolean): DrainState {
    this.drainedForDeploy = on;
    this.o.log.info({ running: this.live.size }, on ? "drained: no new runs; running ones finish" : "serving again");
    return { draining: this.draining, runs: this.live.size, deliveries: this.o.outbox.pending };
  }

  async delegate(req: DelegateRequest): Promise<RunHandle> {
    this.requireServing();
    const selection = this.o.catalog.select(req.category, req.load_skills);
    this.requireModel(selection);
    return this.admit(req.runId, async (runId) => {
      await this.waitForEngine();
      const directory = await this.o.workspaces.ensure(req.organizationId);
      return this.holding(directory, async () => {
        await this.requirePlugin(directory);
        const opencodeSessionId = await this.o.driver.createSession({
          directory,
          title: `Nubabel ${req.session_id}`,
          metadata: { nubabelSessionId: req.session_id, organizationId: req.organizationId },
        });
        const binding: Binding = {
          opencodeSessionId,
          nubabelSessionId: req.session_id,
          organizationId: req.organizationId,
          directory,
          category: selection.category,
          ...(req.load_skills ? { skills: req.load_skills } : {}),
          ...(req.userId ? { userId: req.userId } : {}),
          ...(req.callbacks ? { callbacks: req.callbacks } : {}),
          ...(req.callbackToken ? { callbackToken: req.callbackToken } : {}),
        };
        await this.o.bindings.set(binding);
        this.o.log.info({ opencodeSessionId, nubabelSessionId: req.session_id, category: selection.category, runId }, "session created");
        this.reporter(binding).update("created", { runId });
        const context = req.history?.length ? restoredContext(req.history) : undefined;
        return this.submit(binding, selection, { text: req.prompt, ...(context ? { context } : {}) }, runId, req.timeoutMs, req.approvals);
      });
    });
  }

  async followUp(opencodeSessionId: string, req: PromptRequest): Promise<RunHandle> {
    this.requireServing();
    return this.admit(req.runId, async (runId) => {
      await this.waitForEngine();
      const directory = req.organizationId ? await this.o.workspaces.ensure(req.organizationId) : (await this.o.bindings.get(opencodeSessionId))?.directory;
      const run = async () => {
        const binding = await this.rebind(opencodeSessionId, req);
        await this.requirePlugin(binding.directory);
        const selection = this.o.catalog.select(binding.category, binding.skills);
        this.requireModel(selection);
        return this.submit(binding, selection, { text: req.prompt }, runId, req.timeoutMs, req.approvals);
      };
      return directory ? this.holding(directory, run) : run();
    });
  }

  /** The trace context of the run executing in `opencodeSessionId`, if one is (its tool calls continue it). */
  traceOf(opencodeSessionId: string): Tracing.Context | undefined {
    for (const { execution } of this.live.values()) {
      if (execution.run.opencodeSessionId === opencodeSessionId && execution.run.status === "running") return execution.trace;
    }
    return undefined;
  }

  /**
   * The run running in the session bound to `sessionId` or to its nearest bound parent, for a
   * permission ask made there; "unbound" when no delegation is bound to any of them.
   */
  async runFor(sessionId: string): Promise<GatedRun | "unbound" | undefined> {
    const binding = await boundAncestor(this.o.bindings, async (id) => (await this.o.driver.getSession(id))?.parentId, sessionId);
    if (!binding) return "unbound";
    for (const { execution } of this.live.values()) {
      const run = execution.run;
      if (run.opencodeSessionId !== binding.opencodeSessionId || run.status !== "running") continue;
      return { runId: run.runId, ...(run.approvals ? { approvals: run.approvals } : {}), report: (data) => execution.progress({ type: "permission_asked", data }) };
    }
    return undefined;
  }

  /** The workspaces of the runs running now. */
  runningDirectories(): string[] {
    return [...this.live.values()].flatMap(({ execution }) => (execution.run.status === "running" ? [execution.directory] : []));
  }

  /** A run this sidecar knows. One stored as unfinished that no process here runs was lost in a restart. */
  async get(runId: string): Promise<Runs.Run> {
    const live = this.live.get(runId);
    if (live) return live.execution.run;
    const stored = await this.o.runs.get(runId);
    if (!stored) throw new RunNotFoundError(`no run ${runId} on this sidecar`);
    return this.reconcile(stored);
  }

  /** Stops the running turn; false when nothing was running. Unknown sessions are a 404. */
  async abort(opencodeSessionId: string): Promise<boolean> {
    if (this.queue.abort(opencodeSessionId)) return true;
    await this.waitForEngine();
    const binding = await this.o.bindings.get(opencodeSessionId);
    if (binding?.directory) await this.o.instances.use(binding.directory);
    const session = await this.o.driver.getSession(opencodeSessionId, binding?.directory);
    if (!session) throw new SessionNotFoundError(`no OpenCode session ${opencodeSessionId}`);
    // Not ours to wait on (e.g. started before a sidecar restart): still ask the engine to stop.
    if (await this.o.driver.isBusy(opencodeSessionId, session.directory)) {
      await this.o.driver.abort(opencodeSessionId, session.directory);
      return true;
    }
    return false;
  }

  /**
   * Shutdown: refuses new runs, lets running ones go on for `graceMs`, aborts the rest (they end
   * `aborted`, "the sidecar is shutting down"), then waits up to `deliveryWaitMs` for results.
   */
  close(opts: CloseOptions): Promise<void> {
    this.closing ??= this.drain(opts);
    return this.closing;
  }

  /** Waits for every queued callback (used by tests). */
  async drained(): Promise<void> {
    await Promise.all([...this.reporters.values()].map((r) => r.drained()));
  }

  private async drain({ graceMs, deliveryWaitMs }: CloseOptions): Promise<void> {
    this.state = "draining";
    const finishing = () => Promise.allSettled([...this.live.values()].map((r) => r.finished));
    if (this.live.size) {
      this.o.log.info({ running: this.live.size, graceMs }, "draining: letting running turns finish");
      await Waits.within(finishing(), graceMs);
    }
    if (this.live.size) this.o.log.warn({ aborting: [...this.live.keys()] }, "grace period over: aborting running turns");
    for (const { execution } of this.live.values()) execution.abort(SHUTTING_DOWN);
    await finishing();
    await Waits.within(this.drained(), deliveryWaitMs);
    await this.o.outbox.close(0);
    this.state = "closed";
  }

  /** Admits a run once per id: a repeat gets the run that id already has, wherever it stands. */
  private async admit(requested: string | undefined, create: (runId: string) => Promise<RunHandle>): Promise<RunHandle> {
    if (!requested) return create(Ids.create(Ids.Prefix.run));
    const live = this.live.get(requested);
    if (live) return handle(live.execution.run, live.finished);
    const pending = this.admitting.get(requested);
    if (pending) return pending;
    const admission = (async () => {
      const stored = await this.o.runs.get(requested);
      if (!stored) return create(requested);
      const run = await this.reconcile(stored);
      return handle(run, Promise.resolve(run));
    })();
    this.admitting.set(requested, admission);
    try {
      return await admission;
    } finally {
      this.admitting.delete(requested);
    }
  }

  private async submit(
    binding: Binding,
    selection: Selection,
    prompt: { text: string; context?: string },
    runId: string,
    timeoutMs?: number,
    approvals?: ApprovalRequirements,
  ): Promise<RunHandle> {
    const id = binding.opencodeSessionId;
    this.queue.assertRoom(id);
    const run = Runs.create({
      runId,
      opencodeSessionId: id,
      nubabelSessionId: binding.nubabelSessionId,
      organizationId: binding.organizationId,
      category: selection.category,
      ...(approvals ? { approvals } : {}),
    });
    if (!(await this.o.runs.create(run))) {
      // Another sidecar sharing the store took this id meanwhile.
      const other = await this.get(runId);
      return handle(other, Promise.resolve(other));
    }
    const reporter = this.reporter(binding);
    const execution = new RunExecution(run, this.o, binding, selection, prompt, reporter, Math.min(this.o.runTimeoutMs, timeoutMs ?? Infinity));
    // Shutdown may have begun while the run was being stored: it must not start then.
    if (this.state !== "serving") execution.abort(SHUTTING_DOWN);
    let finished: Promise<Runs.Run>;
    try {
      finished = this.queue.run(id, (signal) => execution.execute(signal));
    } catch (err) {
      // The session's line filled up while the run was being stored.
      await this.o.runs.save(Runs.transition(run, { type: "fail", output: "", error: { code: "queue_full", message: (err as Error).message } })).catch(() => undefined);
      throw err;
    }
    this.live.set(runId, { execution, finished });
    // Forget the run once stored as finished, and an idle session's reporter once its callbacks are out.
    void finished
      .then((ended) => {
        this.live.delete(runId);
        this.o.onFinished?.(ended);
      })
      .then(() => reporter.drained())
      .then(() => {
        if (!this.queue.busy(id) && this.reporters.get(id) === reporter) this.reporters.delete(id);
      });
    return handle(run, finished);
  }

  /** A stored run; one left unfinished by a previous process is failed for good. */
  private async reconcile(stored: Runs.Run): Promise<Runs.Run> {
    if (isFinished(stored.status) || this.live.has(stored.runId)) return stored;
    const lost = Runs.transition(stored, { type: "fail", output: stored.output ?? "", error: Runs.LOST });
    await this.o.runs.save(lost).catch((err: Error) => this.o.log.warn({ runId: stored.runId, err: err.message }, "lost run not stored"));
    return lost;
  }

  private async rebind(opencodeSessionId: string, req: PromptRequest): Promise<Binding> {
    const known = await this.o.bindings.get(opencodeSessionId);
    const organizationId = req.organizationId ?? known?.organizationId;
    const directory = organizationId ? await this.o.workspaces.ensure(organizationId) : undefined;
    const session = await this.o.driver.getSession(opencodeSessionId, directory);
    // A session of another organization's folder is as unknown as a missing one.
    if (!session || (directory && session.directory !== directory)) {
      throw new SessionNotFoundError(`no OpenCode session ${opencodeSessionId}`);
    }
    const binding: Binding = {
      ...(known ?? { opencodeSessionId, nubabelSessionId: req.session_id ?? opencodeSessionId, organizationId: organizationId ?? "" }),
      directory: session.directory,
      ...(organizationId ? { organizationId } : {}),
      ...(req.session_id ? { nubabelSessionId: req.session_id } : {}),
      ...(req.userId ? { userId: req.userId } : {}),
      ...(req.callbacks ? { callbacks: req.callbacks } : {}),
      ...(req.callbackToken ? { callbackToken: req.callbackToken } : {}),
    };
    if (req.callbacks || req.callbackToken || req.organizationId || !known) await this.o.bindings.set(binding);
    return binding;
  }

  /**
   * Runs `start` with `directory`'s engine instance held (never unloaded) until the run it starts
   * has finished, or at once if it throws.
   */
  private async holding(directory: string, start: () => Promise<RunHandle>): Promise<RunHandle> {
    const release = await this.o.instances.acquire(directory);
    try {
      const handle = await start();
      void handle.finished.finally(release);
      return handle;
    } catch (err) {
      release();
      throw err;
    }
  }

  private reporter(binding: Binding): SessionReporter {
    let reporter = this.reporters.get(binding.opencodeSessionId);
    if (!reporter) {
      const log = this.o.log.child({ opencodeSessionId: binding.opencodeSessionId });
      reporter = new SessionReporter(binding, this.o.callbacks, this.o.outbox, { textIntervalMs: this.o.textIntervalMs, batchMs: this.o.progressBatchMs }, log);
      this.reporters.set(binding.opencodeSessionId, reporter);
    } else {
      reporter.rebind(binding);
    }
    return reporter;
  }

  private requireServing(): void {
    if (this.state !== "serving") throw new DrainingError("the sidecar is shutting down");
    if (this.drainedForDeploy) throw new DrainingError("the sidecar is drained");
  }

  /**
   * Fails closed when the engine dropped our plugin for this workspace: once per workspace, since a
   * loaded engine instance keeps its plugins (asked again once it unloads or the engine restarts).
   */
  private async requirePlugin(directory: string): Promise<void> {
    if (!this.o.requirePlugin || this.pluginSeen.has(directory)) return;
    const ids = await this.o.driver.toolIds(directory);
    if (!ids.includes("nubabel_mcp_list")) throw new PluginMissingError(directory);
    this.pluginSeen.add(directory);
  }

  private requireModel(selection: Selection): void {
    if (!this.o.model && !selection.model) throw new NoModelError();
  }

  /** An engine that is (re)starting is waited for, up to `engineWaitMs`; then 503. */
  private async waitForEngine(): Promise<void> {
    // A planned restart is waited out whole, however long the engine takes to start (a loaded
    // machine): a run never sees the recycle.
    const recycling = this.o.instances.recycling;
    if (recycling) await recycling;
    const engine = this.o.engine;
    if (engine.endpoint()) return;
    if (engine.state === "starting" || engine.state === "restarting") {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          engine.off("up", done);
          resolve();
        };
        const timer = setTimeout(done, this.o.engineWaitMs);
        engine.on("up", done);
      });
    }
    const recycleBegun = this.o.instances.recycling;
    if (recycleBegun) await recycleBegun;
    if (!engine.endpoint()) throw new EngineDownError(`the OpenCode engine is ${engine.state}; try again shortly`);
  }
}

/**
 * A conversation moved here from a sidecar that is gone: the model reads it before the prompt,
 * in the prompt's own message (one message, so the turn's events see nothing extra).
 */
function restoredContext(history: HistoryMessage[]): string {
  const turns = history.map((m) => `<${m.role}>\n${m.content}\n</${m.role}>`).join("\n\n");
  return [
    "This conversation began in an earlier session that is no longer available. What was said so far, oldest first, for context:",
    "",
    turns,
    "",
    "The person's new message follows.",
  ].join("\n");
}

function handle(run: Runs.Run, finished: Promise<Runs.Run>): RunHandle {
  return { accepted: { runId: run.runId, opencodeSessionId: run.opencodeSessionId, status: run.status }, finished };
}
