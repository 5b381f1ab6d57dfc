import { randomBytes } from "node:crypto";
import { isFinished, type ProgressEvent } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import { answerFor } from "./delivery.js";
import { LiveMessage, type Clock } from "./live-message.js";
import type { NubabelPort, TurnRequest, TurnRun } from "./ports.js";
import { INITIAL, progressBlocks, reduce, render } from "./progress-view.js";
import { failureMessage, Replies } from "./replies.js";
import type { SlackApi } from "./web-api.js";

/**
 * Where a turn waited on by this instance is:
 * - `submitting`: its run is being accepted;
 * - `queued` / `running`: the run waits for a slot (the message shows its place) / works (the
 *   message shows progress);
 * - `answering`: the run ended; the turn claims its answer;
 * - `done`: it wrote the answer (or why nothing ran) into its message;
 * - `handed-off`: another instance claimed the answer, so this one no longer touches the message;
 * - `left`: this instance is stopping; the run goes on, and whoever claims its answer edits the message.
 */
export type TurnStatus = "submitting" | "queued" | "running" | "answering" | "done" | "handed-off" | "left";

const MOVES: Record<TurnStatus, readonly TurnStatus[]> = {
  submitting: ["queued", "running", "done"],
  queued: ["running", "answering", "left"],
  running: ["answering", "left"],
  answering: ["done", "handed-off"],
  done: [],
  "handed-off": [],
  left: [],
};

export interface TurnDeps {
  port: NubabelPort;
  api: SlackApi;
  updateIntervalMs: number;
  /** How often a queued run's place in line is looked up. */
  queuePollMs: number;
  clock: Clock;
  log: Logger;
}

/** What the turn tells the conversation it belongs to. */
export interface TurnHooks {
  /** The turn is a run now (the conversation routes that run's end here, not to a hand-over). */
  onRun(turn: Turn): void;
  /** A message of the turn a person may react to with `:x:`. */
  onMessage(ts: string): void;
  /** Whether an earlier turn of the same thread is still unfinished here (it then waits for that one). */
  behindThread(): boolean;
}

/**
 * One request in a thread, waited on by this instance: submits it as a run, keeps one progress
 * message (its place in line while queued, then live progress), and at the end claims the answer
 * and edits the message into it, unless another instance claimed it first.
 */
export class Turn {
  status: TurnStatus = "submitting";
  run: TurnRun | undefined;
  /** Settles once the request is a run, or was refused. */
  readonly submitted: Promise<void>;
  private markSubmitted!: () => void;
  private readonly live: LiveMessage;
  private view = INITIAL;
  /** Progress that arrived before the run's id was known. */
  private readonly early: ProgressEvent[] = [];
  private readonly leaving = new AbortController();
  private readonly started = new AbortController();
  private readonly log: Logger;

  constructor(
    private readonly deps: TurnDeps,
    private readonly request: TurnRequest,
    private readonly hooks: TurnHooks,
  ) {
    const { channelId, threadTs } = request.origin;
    this.log = deps.log;
    this.submitted = new Promise((resolve) => (this.markSubmitted = resolve));
    this.live = new LiveMessage(
      { post: (text, blocks) => deps.api.post(channelId, threadTs, text, blocks), update: (ts, text, blocks) => deps.api.update(channelId, ts, text, blocks) },
      deps.updateIntervalMs,
      deps.log,
      deps.clock,
      // Progress is shown once the request is a run: the Stop button names it.
      (text) => (this.run ? progressBlocks(text, this.run.id) : undefined),
    );
  }

  /** Runs the turn to its end (never rejects: failures are said in the thread). */
  async play(): Promise<void> {
    const unsubscribe = await this.watch();
    try {
      const run = await this.submit();
      if (!run) return;
      this.open(run);
      const ended = await this.waitForEnd(run);
      if (ended) await this.answer(ended);
      else if (this.leaving.signal.aborted) await this.leave(run);
      else if (this.move("left")) await this.live.close();
    } catch (err) {
      this.log.error({ err: (err as Error).message, status: this.status }, "turn failed unexpectedly");
    } finally {
      this.markSubmitted();
      await unsubscribe?.().catch((err: Error) => this.log.warn({ err: err.message }, "unsubscribe failed"));
    }
  }

  /** This instance is stopping: stop waiting; the run goes on without it. */
  stopWaiting(): void {
    this.leaving.abort();
  }

  private move(to: TurnStatus): boolean {
    if (!MOVES[this.status].includes(to)) return false;
    this.log.debug({ from: this.status, to }, "turn moved");
    this.status = to;
    return true;
  }

  private async watch(): Promise<(() => Promise<void>) | undefined> {
    const { organizationId, sessionId } = this.request;
    try {
      return await this.deps.port.watchProgress(organizationId, sessionId, (event) => this.onProgress(event));
    } catch (err) {
      // Progress is a courtesy: the run still runs and answers without it.
      this.log.warn({ err: (err as Error).message }, "could not watch progress");
      return undefined;
    }
  }

  private onProgress(event: ProgressEvent): void {
    const run = this.run;
    if (!run) {
      this.early.push(event);
      return;
    }
    // The session's stream carries every run of it; an earlier run's events are not this one's.
    if (event.runId !== undefined && event.runId !== run.id) return;
    if (this.status === "queued") {
      if (event.runId !== run.id) return;
      this.begin();
    }
    const next = reduce(this.view, event);
    if (next === this.view) return;
    this.view = next;
    if (this.status === "running") this.live.show(render(next));
  }

  private async submit(): Promise<TurnRun | undefined> {
    try {
      const run = await this.deps.port.submit(this.request);
      this.run = run;
      this.hooks.onRun(this);
      this.move(run.status === "queued" ? "queued" : "running");
      this.log.info({ runId: run.id, status: run.status }, "turn submitted");
      for (const event of this.early.splice(0)) this.onProgress(event);
      return run;
    } catch (err) {
      const ref = `slk_${randomBytes(4).toString("hex")}`;
      const { name, message, data } = err as Error & { data?: unknown };
      this.log.error({ ref, err: { name, message, data } }, "turn not accepted");
      this.move("done");
      await this.live.finish([failureMessage(err, ref)]);
      return undefined;
    } finally {
      this.markSubmitted();
    }
  }

  /** Posts the progress message (not awaited: a rate-limited post must not hold the turn up) and stores its ts in the run. */
  private open(run: TurnRun): void {
    const text = this.status === "queued" ? this.waitingText(undefined) : render(this.view);
    void this.live.open(text).then(async () => {
      const ts = this.live.messageTs;
      if (!ts) return;
      this.hooks.onMessage(ts);
      await this.deps.port.setProgressMessage(run.id, ts).catch((err: Error) => this.log.warn({ err: err.message }, "could not store the progress message in the run"));
    });
  }

  private begin(): void {
    if (!this.move("running")) return;
    this.started.abort();
    this.live.show(render(this.view));
  }

  private waitingText(position: number | undefined): string {
    return this.hooks.behindThread() ? Replies.queued : Replies.waiting(position);
  }

  /** The ended run, or undefined when this instance stopped waiting first. */
  private async waitForEnd(run: TurnRun): Promise<TurnRun | undefined> {
    const polling = this.status === "queued" ? this.followQueue(run) : undefined;
    try {
      return await this.deps.port.wait(run, this.leaving.signal);
    } catch (err) {
      if (!this.leaving.signal.aborted) {
        // The run goes on; whoever hands its answer over later (any instance) edits the message.
        this.log.warn({ err: (err as Error).message }, "lost track of the run; its answer will be handed over");
      }
      return undefined;
    } finally {
      this.started.abort();
      await polling;
    }
  }

  /** Shows the run's place in line until it starts (or ends). */
  private async followQueue(run: TurnRun): Promise<void> {
    const signal = this.started.signal;
    while (this.status === "queued" && !signal.aborted) {
      try {
        const now = await this.deps.port.state(run);
        if (now.status !== "queued") {
          if (this.status === "queued") this.begin();
          return;
        }
        this.live.show(this.waitingText(now.queuePosition));
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, "could not read the run's place in line");
      }
      await this.deps.clock.sleep(this.deps.queuePollMs, signal);
    }
  }

  private async answer(ended: TurnRun): Promise<void> {
    this.move("answering");
    let claimed = false;
    try {
      claimed = await this.deps.port.claimDelivery(ended.id);
    } catch (err) {
      // Unclaimed, the answer is handed over later by reconciliation (on any instance).
      this.log.warn({ err: (err as Error).message }, "could not claim the answer");
    }
    if (!claimed) {
      this.move("handed-off");
      await this.live.close();
      this.log.info({ runId: ended.id }, "answer handed over elsewhere");
      return;
    }
    const chunks = await answerFor(this.deps.port, ended, this.log);
    await this.live.finish(chunks);
    this.move("done");
    this.log.info({ runId: ended.id, status: ended.status }, "turn answered");
  }

  /**
   * This instance stops before the run ended. A run that ended meanwhile is still answered here;
   * otherwise the message says the answer will follow (the run is durable, and whoever claims
   * its answer, after a restart included, edits this very message).
   */
  private async leave(run: TurnRun): Promise<void> {
    const now = await this.deps.port.state(run).catch(() => undefined);
    if (now && isFinished(now.status)) {
      const ended = await this.deps.port.wait(run).catch(() => undefined);
      if (ended) return this.answer(ended);
    }
    if (!this.move("left")) return;
    await this.live.finish([Replies.restarting]);
  }
}
