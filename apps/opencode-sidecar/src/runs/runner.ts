import type { DelegateRequest, DelegateResponse, PromptRequest } from "@nubabel/contracts";
import type { Binding, BindingStore } from "../bindings/binding.js";
import type { CallbackClient } from "../callbacks/client.js";
import { SessionReporter } from "../callbacks/reporter.js";
import type { Catalog, Selection } from "../catalog/catalog.js";
import type { EngineDriver } from "../engine/driver.js";
import { type Engine, EngineDownError } from "../engine/engine.js";
import type { Logger } from "../logger.js";
import type { Workspaces } from "../workspaces/workspaces.js";
import { NoModelError, SessionNotFoundError } from "./errors.js";
import { SessionQueue } from "./session-queue.js";
import { runTurn } from "./turn.js";

export interface RunnerOptions {
  driver: EngineDriver;
  engine: Engine;
  bindings: BindingStore;
  catalog: Catalog;
  callbacks: CallbackClient;
  workspaces: Workspaces;
  /** The default model, or null when none is configured. */
  model: string | null;
  runTimeoutMs: number;
  queueLimit: number;
  textIntervalMs: number;
  log: Logger;
}

/**
 * Delegations and follow-ups: binds OpenCode sessions to Nubabel's, runs turns one at a time per
 * session, and reports state and progress back through the session's callbacks.
 */
export class Runner {
  private readonly queue: SessionQueue;
  private readonly reporters = new Map<string, SessionReporter>();

  constructor(private readonly o: RunnerOptions) {
    this.queue = new SessionQueue(o.queueLimit);
  }

  async delegate(req: DelegateRequest): Promise<DelegateResponse> {
    const selection = this.o.catalog.select(req.category, req.load_skills);
    this.requireModel(selection);
    this.requireEngine();
    const directory = await this.o.workspaces.ensure(req.organizationId);
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
    this.o.log.info({ opencodeSessionId, nubabelSessionId: req.session_id, category: selection.category }, "session created");
    this.reporter(binding).update("created");
    return this.enqueue(binding, selection, req.prompt);
  }

  async followUp(opencodeSessionId: string, req: PromptRequest): Promise<DelegateResponse> {
    this.requireEngine();
    const binding = await this.rebind(opencodeSessionId, req);
    const selection = this.o.catalog.select(binding.category, binding.skills);
    this.requireModel(selection);
    return this.enqueue(binding, selection, req.prompt);
  }

  /** Stops the running turn; false when nothing was running. Unknown sessions are a 404. */
  async abort(opencodeSessionId: string): Promise<boolean> {
    if (this.queue.abort(opencodeSessionId)) return true;
    this.requireEngine();
    const binding = await this.o.bindings.get(opencodeSessionId);
    const session = await this.o.driver.getSession(opencodeSessionId, binding?.directory);
    if (!session) throw new SessionNotFoundError(`no OpenCode session ${opencodeSessionId}`);
    // Not ours to wait on (e.g. started before a sidecar restart): still ask the engine to stop.
    if (await this.o.driver.isBusy(opencodeSessionId, session.directory)) {
      await this.o.driver.abort(opencodeSessionId, session.directory);
      return true;
    }
    return false;
  }

  private async rebind(opencodeSessionId: string, req: PromptRequest): Promise<Binding> {
    const known = await this.o.bindings.get(opencodeSessionId);
    const organizationId = req.organizationId ?? known?.organizationId;
    const directory = organizationId ? this.o.workspaces.dir(organizationId) : undefined;
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

  private enqueue(binding: Binding, selection: Selection, text: string): Promise<DelegateResponse> {
    const reporter = this.reporter(binding);
    const id = binding.opencodeSessionId;
    const result = this.queue.run(id, async (signal) => {
      const started = Date.now();
      reporter.update("running");
      let outcome;
      try {
        outcome = await runTurn(
          this.o.driver,
          {
            sessionId: id,
            directory: binding.directory,
            text,
            system: selection.system,
            ...(selection.agent ? { agent: selection.agent } : {}),
            ...(selection.model ? { model: selection.model } : {}),
            timeoutMs: this.o.runTimeoutMs,
            signal,
          },
          reporter,
          (listener) => {
            this.o.engine.on("down", listener);
            return () => this.o.engine.off("down", listener);
          },
        );
      } catch (err) {
        const engineDown = err instanceof EngineDownError;
        const message = engineDown ? err.message : `the engine failed the run: ${(err as Error).message}`;
        outcome = { status: "error" as const, output: "", error: { code: engineDown ? "engine_unavailable" : "engine_error", message } };
      }
      if (outcome.status === "error") {
        reporter.progress({ type: "session_error", data: { error: outcome.error ?? { code: "error", message: "the run failed" } } });
      } else {
        reporter.progress({ type: "completed", data: { status: outcome.status, output: outcome.output } });
      }
      const durationMs = Date.now() - started;
      reporter.update(outcome.status === "success" ? "completed" : outcome.status === "aborted" ? "aborted" : "failed", { durationMs });
      this.o.log.info({ opencodeSessionId: id, status: outcome.status, durationMs }, "turn finished");
      return {
        output: outcome.output,
        status: outcome.status,
        ...(outcome.error ? { error: outcome.error } : {}),
        metadata: {
          model: ("model" in outcome && outcome.model) || selection.model || this.o.model || "unknown",
          opencodeSessionId: id,
          nubabelSessionId: binding.nubabelSessionId,
          category: selection.category,
          durationMs,
        },
      };
    });
    // Forget an idle session's reporter once its callbacks are out, so memory follows live sessions.
    void result
      .catch(() => undefined)
      .then(() => reporter.drained())
      .then(() => {
        if (!this.queue.busy(id) && this.reporters.get(id) === reporter) this.reporters.delete(id);
      });
    return result;
  }

  private reporter(binding: Binding): SessionReporter {
    let reporter = this.reporters.get(binding.opencodeSessionId);
    if (!reporter) {
      reporter = new SessionReporter(binding, this.o.callbacks, this.o.textIntervalMs, this.o.log.child({ opencodeSessionId: binding.opencodeSessionId }));
      this.reporters.set(binding.opencodeSessionId, reporter);
    } else {
      reporter.rebind(binding);
    }
    return reporter;
  }

  /** Waits for every queued callback (used at shutdown and by tests). */
  async drained(): Promise<void> {
    await Promise.all([...this.reporters.values()].map((r) => r.drained()));
  }

  private requireModel(selection: Selection): void {
    if (!this.o.model && !selection.model) throw new NoModelError();
  }

  private requireEngine(): void {
    if (!this.o.engine.endpoint()) throw new EngineDownError(`the OpenCode engine is ${this.o.engine.state}; try again shortly`);
  }
}
