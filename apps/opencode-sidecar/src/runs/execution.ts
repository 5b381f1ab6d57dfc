import type { ErrorInfo } from "@nubabel/contracts";
import { Tracing } from "@nubabel/telemetry";
import type { Binding } from "../bindings/binding.js";
import type { SessionReporter } from "../callbacks/reporter.js";
import type { Selection } from "../catalog/catalog.js";
import type { EngineDriver } from "../engine/driver.js";
import { type Engine, EngineDownError } from "../engine/engine.js";
import type { Logger } from "../logger.js";
import type { RunStore } from "./run-store.js";
import { answerStatus, type Run, type RunEvent, toResult, transition } from "./run.js";
import { runTurn, type TurnOutcome } from "./turn.js";

export interface ExecutionDeps {
  driver: EngineDriver;
  engine: Engine;
  runs: RunStore;
  /** The default model, or null when none is configured. */
  model: string | null;
  log: Logger;
}

/**
 * One run this process is running: moves its record through the state machine as the turn goes,
 * stores every move, and reports the ending (result or terminal event) through the session's
 * reporter. `abort` stops it whether it is still queued or already running.
 */
export class RunExecution {
  private readonly stopper = new AbortController();
  private saving: Promise<void> = Promise.resolve();
  /**
   * The trace the run was started in (the request from Nubabel that handed it over): the turn
   * may start later, from another request's async path, when the session's line reaches it.
   */
  private readonly started = Tracing.active();
  /** The turn's span context while it runs, for the bridge's tool calls and the session's callbacks. */
  private turn: Tracing.Context | undefined;

  constructor(
    public run: Run,
    private readonly deps: ExecutionDeps,
    private readonly binding: Binding,
    private readonly selection: Selection,
    private readonly prompt: { text: string; context?: string },
    private readonly reporter: SessionReporter,
    /** The run's bound: the sidecar's own, or Nubabel's if shorter. */
    private readonly timeoutMs: number,
  ) {}

  /** Stops the run; `reason` becomes its error (it ends `aborted`). */
  abort(reason: ErrorInfo): void {
    this.stopper.abort(reason);
  }

  /** The workspace the run's session lives in. */
  get directory(): string {
    return this.binding.directory;
  }

  /** Reports progress outside the turn's own events (a permission ask), in order with them. */
  progress(event: Parameters<SessionReporter["progress"]>[0]): void {
    this.reporter.progress({ ...event, runId: this.run.runId });
  }

  /** The trace context a tool call of this run continues: the turn's while it runs. */
  get trace(): Tracing.Context {
    return this.turn ?? this.started;
  }

  /** Runs the turn once the session's line reaches it (`lane` aborts on a session abort). Never rejects. */
  execute(lane: AbortSignal): Promise<Run> {
    const attributes = { "sidecar.run.id": this.run.runId, "opencode.session.id": this.run.opencodeSessionId };
    return Tracing.inSpan("engine.turn", { tracer: "sidecar.runs", parent: this.started, attributes }, async (span) => {
      this.turn = Tracing.contextOf(span);
      this.reporter.traceWith(this.turn);
      try {
        const run = await this.executeTurn(lane);
        span.setAttribute("sidecar.run.status", run.status);
        return run;
      } finally {
        this.turn = undefined;
      }
    });
  }

  private async executeTurn(lane: AbortSignal): Promise<Run> {
    const signal = AbortSignal.any([lane, this.stopper.signal]);
    if (signal.aborted) {
      return this.end({ type: "abort", output: "", error: reasonOf(signal) });
    }
    this.move({ type: "start" });
    this.reporter.update("running", { runId: this.run.runId });
    let outcome: TurnOutcome;
    // The model's first token (or tool call) is the first progress that is not a status: the time
    // until then is the wait on the model (a fair proxy, since the engine starts the call at once).
    const modelWait = Tracing.tracer("sidecar.runs").startSpan("model.wait", {}, this.turn);
    let waiting = true;
    const endWait = () => {
      if (waiting) modelWait.end();
      waiting = false;
    };
    const report = (event: Parameters<SessionReporter["progress"]>[0]) => {
      if (event.type !== "status" && event.type !== "connected") endWait();
      this.reporter.progress({ ...event, runId: this.run.runId });
    };
    try {
      outcome = await runTurn(
        this.deps.driver,
        {
          sessionId: this.run.opencodeSessionId,
          directory: this.binding.directory,
          text: this.prompt.text,
          ...(this.prompt.context ? { context: this.prompt.context } : {}),
          system: this.selection.system,
          ...(this.selection.agent ? { agent: this.selection.agent } : {}),
          ...(this.selection.model ? { model: this.selection.model } : {}),
          timeoutMs: this.timeoutMs,
          signal,
        },
        report,
        (listener) => {
          this.deps.engine.on("down", listener);
          return () => this.deps.engine.off("down", listener);
        },
      );
    } catch (err) {
      const engineDown = err instanceof EngineDownError;
      const message = engineDown ? err.message : `the engine failed the run: ${(err as Error).message}`;
      outcome = { status: "error", output: "", error: { code: engineDown ? "engine_unavailable" : "engine_error", message } };
    } finally {
      // A turn that ended before any output (an error, an abort) ends its wait with it.
      endWait();
    }
    const ending = {
      output: outcome.output,
      ...(outcome.usage ? { usage: outcome.usage } : {}),
      model: outcome.model ?? this.selection.model ?? this.deps.model ?? "unknown",
    };
    const error = outcome.error ?? { code: "error", message: "the run failed" };
    const event: RunEvent =
      outcome.status === "success"
        ? { type: "complete", ...ending }
        : outcome.status === "aborted"
          ? { type: "abort", ...ending, error }
          : { type: "fail", ...ending, error };
    return this.end(event);
  }

  private async end(event: RunEvent): Promise<Run> {
    this.move(event);
    const run = this.run;
    const terminal =
      run.status === "failed"
        ? { type: "session_error" as const, data: { error: run.error ?? { code: "error", message: "the run failed" }, ...(run.output ? { output: run.output } : {}) } }
        : { type: "completed" as const, data: { status: answerStatus(run.status), output: run.output ?? "" } };
    this.reporter.end(toResult(run), { ...terminal, runId: run.runId });
    this.reporter.update(run.status === "completed" ? "completed" : run.status === "aborted" ? "aborted" : "failed", { durationMs: run.durationMs, runId: run.runId });
    this.deps.log.info({ runId: run.runId, opencodeSessionId: run.opencodeSessionId, status: run.status, durationMs: run.durationMs }, "run finished");
    await this.saving;
    return run;
  }

  /** One move of the state machine, stored in order; a store that fails is logged, the run goes on. */
  private move(event: RunEvent): void {
    this.run = transition(this.run, event);
    const snapshot = this.run;
    this.saving = this.saving
      .then(() => this.deps.runs.save(snapshot))
      .catch((err: Error) => this.deps.log.error({ runId: snapshot.runId, err: err.message }, "run state not stored"));
  }
}

/** Why a signal aborted, as the run's error. */
function reasonOf(signal: AbortSignal): ErrorInfo {
  const reason = signal.reason as Partial<ErrorInfo> | undefined;
  if (reason && typeof reason.code === "string" && typeof reason.message === "string") return { code: reason.code, message: reason.message };
  return { code: "aborted", message: "the run was stopped before it started" };
}
