import type { RunStatus, Usage } from "@nubabel/contracts";
import type { ProgressInput } from "../callbacks/reporter.js";
import type { EngineDriver, PromptInput } from "../engine/driver.js";
import { EngineDownError, EngineTimeoutError } from "../engine/engine.js";
import { turnResult } from "../engine/turn-result.js";
import { addUsage } from "../engine/usage.js";
import type { AssistantStep, EngineEvent, ErrorInfo, TurnResult } from "../engine/events.js";

export interface TurnInput extends PromptInput {
  timeoutMs: number;
  /** Stops the turn. A reason that is an `ErrorInfo` becomes the outcome's error (shutdown). */
  signal: AbortSignal;
}

export interface TurnOutcome {
  status: RunStatus;
  output: string;
  model?: string;
  error?: ErrorInfo;
  usage?: Usage;
}

/** How long a stopped turn waits for the engine to confirm before it is reported aborted anyway. */
const ABORT_CONFIRM_MS = 5_000;
/** After a read of a turn's end timed out, how long before the engine is asked again. */
const RECHECK_AFTER_TIMEOUT_MS = 1_000;
const TOOL_OUTPUT_LIMIT = 2_000;

/**
 * A turn's lifecycle: the prompt is being `sending`, then the turn is `following` the engine's
 * events, `stopping` once asked to stop (until the engine confirms or a deadline passes), `done`.
 */
type Phase = "sending" | "following" | "stopping" | "done";

/**
 * Runs one turn: sends the prompt with `promptAsync` and follows the engine's events until the
 * session is idle again, reporting progress on the way. Completion is confirmed against the
 * engine (its status, unless the stream showed this turn's prompt, then busy, then idle; then the
 * stored last message), so a late or lost event cannot end a turn early or leave it hanging.
 */
export function runTurn(
  driver: EngineDriver,
  input: TurnInput,
  report: (event: ProgressInput) => void,
  engineDown: (listener: (reason: string) => void) => () => void,
): Promise<TurnOutcome> {
  return new Turn(driver, input, report).run(engineDown);
}

class Turn {
  private phase: Phase = "sending";
  private readonly startedAt = Date.now();
  private sending: Promise<void> = Promise.resolve();
  /** Evidence that the engine worked on this turn (a stale idle must not end it). */
  private busySeen = false;
  /**
   * The engine said idle after going busy on this turn's prompt, in its one ordered stream: the
   * turn is over, no need to ask the engine's status (each call costs it milliseconds of CPU).
   */
  private idleAfterPrompt = false;
  private busyAfterPrompt = false;
  private sessionError: ErrorInfo | undefined;
  /** This turn's user messages, with when the engine stored each. */
  private readonly userMessages = new Map<string, number>();
  /** This turn's assistant messages (model steps), in the order they appeared. */
  private readonly steps = new Map<string, AssistantStep & { error?: ErrorInfo }>();
  /** The event stream reconnected during the turn: what it said may have gaps. */
  private resynced = false;
  private readonly texts = new Map<string, Map<string, string>>(); // messageId → partId → text
  private readonly tools = new Map<string, string>(); // callId → last reported status
  private currentMessage: string | undefined;
  private confirming: Promise<void> | undefined;
  /** An idle arrived while an earlier one was being confirmed: check once more. */
  private recheck = false;
  private readonly cleanup: Array<() => void> = [];
  private settle: (outcome: TurnOutcome | Error) => void = () => undefined;

  constructor(
    private readonly driver: EngineDriver,
    private readonly input: TurnInput,
    private readonly report: (event: ProgressInput) => void,
  ) {}

  run(engineDown: (listener: (reason: string) => void) => () => void): Promise<TurnOutcome> {
    const done = new Promise<TurnOutcome>((resolve, reject) => {
      this.settle = (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome));
    });
    this.cleanup.push(this.driver.onSessionEvent(this.input.sessionId, (event) => this.onEvent(event)));
    this.cleanup.push(engineDown((reason) => this.finish(new EngineDownError(`${reason} during the run; it is being restarted`))));
    const timer = setTimeout(() => this.timeOut(), this.input.timeoutMs);
    this.cleanup.push(() => clearTimeout(timer));
    const onAbort = () => this.stop();
    this.input.signal.addEventListener("abort", onAbort, { once: true });
    this.cleanup.push(() => this.input.signal.removeEventListener("abort", onAbort));

    const { sessionId, directory, text, context, system, agent, model } = this.input;
    this.sending = this.driver
      .prompt({ sessionId, directory, text, ...(context ? { context } : {}), ...(system ? { system } : {}), ...(agent ? { agent } : {}), ...(model ? { model } : {}) })
      .then(
        () => {
          if (this.phase === "sending") this.phase = "following";
        },
        (err: Error) => {
          // A prompt whose answer timed out may have reached the engine all the same: the run is
          // reported failed, so the engine must not go on with it unobserved. (A turn already
          // over is left alone: the abort would land on whatever the session does next; one
          // being stopped is aborted by `stop`.)
          if (isTimeout(err) && this.phase === "sending") this.abortEngine();
          this.finish(err);
        },
      );
    if (this.input.signal.aborted) this.stop();
    return done;
  }

  private finish(outcome: TurnOutcome | Error): void {
    if (this.phase === "done") return;
    this.phase = "done";
    for (const fn of this.cleanup) fn();
    this.settle(outcome);
  }

  /** Asked to stop: tell the engine (once the prompt is in), and do not wait on it for ever. */
  private stop(): void {
    if (this.phase === "done" || this.phase === "stopping") return;
    this.phase = "stopping";
    void this.sending.then(() => this.abortEngine());
    const timer = setTimeout(() => this.finish({ status: "aborted", output: this.currentText(), error: this.abortError(undefined) }), ABORT_CONFIRM_MS);
    this.cleanup.push(() => clearTimeout(timer));
  }

  private timeOut(): void {
    this.abortEngine();
    const message = `the run took longer than ${this.input.timeoutMs} ms and was stopped`;
    this.finish({ status: "error", output: this.currentText(), error: { code: "timeout", message } });
  }

  private abortEngine(): void {
    void this.driver.abort(this.input.sessionId, this.input.directory).catch(() => undefined);
  }

  /** The error of an aborted outcome: the caller's reason when it gave one, else the engine's. */
  private abortError(engine: ErrorInfo | undefined): ErrorInfo {
    const reason: unknown = this.input.signal.reason;
    if (isErrorInfo(reason)) return reason;
    return engine ?? { code: "aborted", message: "the run was stopped" };
  }

  /** Coalesces idles: one confirmation at a time, and one more if an idle came meanwhile. */
  private confirm(): void {
    if (this.phase === "done") return;
    if (this.confirming) {
      this.recheck = true;
      return;
    }
    this.confirming = this.check()
      .catch((err: Error) => {
        if (!isTimeout(err)) return this.finish(err);
        if (this.phase === "done") return;
        // The engine, busy with many turns, was slow to answer a read: that proves nothing about
        // this turn, whose answer may be stored. Ask again; the turn's own timeout bounds the asking.
        const timer = setTimeout(() => this.confirm(), RECHECK_AFTER_TIMEOUT_MS);
        this.cleanup.push(() => clearTimeout(timer));
      })
      .finally(() => (this.confirming = undefined));
  }

  private async check(): Promise<void> {
    do {
      this.recheck = false;
      const { sessionId, directory } = this.input;
      if (!this.idleAfterPrompt && (await this.driver.isBusy(sessionId, directory))) continue; // a stale idle
      const last = this.fromEvents() ?? (await this.driver.lastResult(sessionId, directory));
      // Without a busy or error event of this turn (lost in a reconnect, or an idle left over
      // from the previous turn), only an answer created since the prompt proves the turn is over.
      // (This compares the engine's clock with ours; an attached engine elsewhere relies on busy.)
      const ours = this.busySeen || this.sessionError !== undefined || (last !== undefined && last.createdAt >= this.startedAt);
      if (!ours) continue;
      const error = this.sessionError ?? last?.error;
      // The subagents' steps are the run's too (and its budget's): read before the idle is reported.
      const spent = last ? { model: last.model, usage: addUsage(last.usage, await this.driver.subagentUsage(sessionId, directory, last.startedAt)) } : undefined;
      this.report({ type: "session_idle", data: {} });
      const aborted = error?.code === "MessageAbortedError" || this.input.signal.aborted;
      const status: RunStatus = !error ? "success" : aborted ? "aborted" : "error";
      const ending = status === "aborted" ? this.abortError(error) : error;
      this.finish({
        status,
        output: last?.text ?? "",
        ...spent,
        ...(ending ? { error: ending } : {}),
      });
      return;
    } while (this.recheck && this.phase !== "done");
  }

  private onEvent(event: EngineEvent): void {
    if (this.phase === "done") return;
    if (event.type === "resync") {
      this.resynced = true;
      if (this.phase !== "sending") this.confirm();
      return;
    }
    if (event.sessionId !== this.input.sessionId) return;
    switch (event.type) {
      case "status":
        // The engine stores the prompt before it starts working on it: busy after this turn's
        // user message is this turn's, not an earlier one's still winding down.
        if (event.status === "busy" && this.userMessages.size > 0) this.busyAfterPrompt = true;
        if (event.status === "busy" && !this.busySeen) {
          this.busySeen = true;
          this.report({ type: "status", data: { status: "busy" } });
        } else if (event.status === "retry") {
          const { message, attempt } = event;
          this.report({ type: "status", data: { status: "retry", ...(message ? { message } : {}), ...(attempt ? { attempt } : {}) } });
        }
        return;
      case "idle":
        if (this.busyAfterPrompt) this.idleAfterPrompt = true;
        if (this.phase !== "sending" || this.busySeen) this.confirm();
        return;
      case "error":
        this.sessionError = event.error;
        return;
      case "message":
        if (event.role === "user") this.userMessages.set(event.messageId, event.createdAt);
        else {
          // A later update of a step keeps its place in the order.
          this.steps.set(event.messageId, { ...event.step, ...(event.error ? { error: event.error } : {}) });
        }
        return;
      case "text":
        this.onText(event.messageId, event.partId, event.text);
        return;
      case "text-delta":
        this.onText(event.messageId, event.partId, (this.texts.get(event.messageId)?.get(event.partId) ?? "") + event.delta);
        return;
      case "tool":
        this.onTool(event);
        return;
      case "subagent":
        this.onTool(event.event, event.subagent);
        return;
      default:
        return;
    }
  }

  private onText(messageId: string, partId: string, text: string): void {
    if (this.userMessages.has(messageId)) return;
    const parts = this.texts.get(messageId) ?? new Map<string, string>();
    this.texts.set(messageId, parts);
    parts.set(partId, text);
    this.currentMessage = messageId;
    const whole = [...parts.values()].join("");
    if (whole.trim()) this.report({ type: "message_updated", data: { text: whole, messageId } });
  }

  private onTool(event: Extract<EngineEvent, { type: "tool" }>, subagent?: string): void {
    const before = this.tools.get(event.callId);
    if (before === event.status) return;
    this.tools.set(event.callId, event.status);
    const base = { tool: event.tool, callId: event.callId, ...(subagent ? { subagent: nameOf(subagent) } : {}) };
    if ((event.status === "pending" || event.status === "running") && !before) {
      this.report({ type: "tool_started", data: { ...base, ...(event.input ? { input: event.input } : {}) } });
    } else if (event.status === "completed") {
      this.report({ type: "tool_completed", data: { ...base, output: (event.output ?? "").slice(0, TOOL_OUTPUT_LIMIT) } });
    } else if (event.status === "error") {
      this.report({ type: "tool_failed", data: { ...base, error: event.error ?? "tool failed" } });
    }
  }

  /**
   * The turn's answer as the event stream told it, as `lastResult` would read it from the engine:
   * only when the stream showed the whole turn (this prompt, busy, idle, no reconnection) and its
   * last step answers this turn's prompt and is complete. Otherwise undefined: the engine is asked.
   * Saves a read of the session's messages, the dearest call a turn makes of the engine.
   */
  private fromEvents(): TurnResult | undefined {
    if (!this.idleAfterPrompt || this.resynced) return undefined;
    const last = [...this.steps].at(-1);
    if (!last) return undefined;
    const [messageId, step] = last;
    const promptedAt = this.userMessages.get(step.parentId);
    if (promptedAt === undefined || !step.completed) return undefined;
    const text = [...(this.texts.get(messageId)?.values() ?? [])].join("").trim();
    return turnResult(step, this.steps.values(), promptedAt, text, step.error);
  }

  private currentText(): string {
    return this.currentMessage ? [...(this.texts.get(this.currentMessage)?.values() ?? [])].join("") : "";
  }
}

function isErrorInfo(value: unknown): value is ErrorInfo {
  const v = value as ErrorInfo | undefined;
  return typeof v === "object" && v !== null && typeof v.code === "string" && typeof v.message === "string";
}

/** A subagent's name as the contract takes it (one line, at most 200 characters): its session's title comes from the model. */
function nameOf(title: string): string {
  // eslint-disable-next-line no-control-regex
  return title.replace(/[\u0000-\u001f\u007f]+/g, " ").trim().slice(0, 200);
}

/** A call to the engine that ran out of `ENGINE_REQUEST_TIMEOUT_MS`. */
function isTimeout(err: unknown): boolean {
  return err instanceof EngineTimeoutError;
}
