import { EventEmitter } from "node:events";
import { LRUCache } from "lru-cache";
import { setTimeout as sleep } from "node:timers/promises";
import { Ids, isFinished, type ProgressEvent, type RunResult, Waits } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import type { MappingRecord } from "../mapping/session-mapping.js";
import { streamOf, type ProgressLog } from "../progress/progress-log.js";
import { Sessions, type SessionStore } from "../sessions/index.js";
import { dispatch, type DispatchDeps } from "./dispatch.js";
import { RunNotFound, RunQueueFull } from "./errors.js";
import { endingFrom, historyOf, terminalEvent } from "./outcome.js";
import type { HistoryEntry, Limits, RunEvents, RunOutbox, RunStore, SpendGate } from "./ports.js";
import type { Ending, Origin, Run } from "./run.js";
import { RunSpans } from "./run-spans.js";

export interface SubmitInput {
  organizationId: string;
  prompt: string;
  sessionId?: string;
  category?: string;
  load_skills?: string[];
  userId?: string;
  origin?: Origin;
}

export interface RunsDeps extends DispatchDeps {
  store: RunStore;
  sessions: SessionStore;
  progress: ProgressLog;
  limits: Limits;
  /** Asked before each submission; absent, nothing is refused for spending. */
  spend?: SpendGate;
  logger: Logger;
  /** How often a waiting caller re-reads a run that may end on another instance. */
  pollMs?: number;
  events?: RunEvents;
  /** Told of each move durably (webhooks); awaited, never failing a run. */
  outbox?: RunOutbox;
}

/** How long an answer that outran its run's hand-over waits for it: under the sidecar's callback timeout (5 s). */
const PLACEMENT_WAIT_MS = 3_000;
const PLACEMENT_POLL_MS = 100;

/**
 * Runs: a prompt is accepted as a queued run (stored at once), started when its organization has
 * a free slot and its session's earlier runs are done, handed to a sidecar without waiting for the
 * turn, and ended exactly once by whichever comes first: the sidecar's terminal callback, or
 * reconciliation asking the sidecar. Every state change is one transaction in PostgreSQL, so any
 * instance may do any step and a restart loses nothing.
 */
export class Runs {
  private readonly ended = new EventEmitter().setMaxListeners(0);
  /**
   * The latest state of the runs this instance admitted, started or ended, so the result of a run
   * started here and a wait on it need not read it back. Only immutable fields and a finished
   * status are trusted from it; every change still goes through the store's conditional writes.
   */
  private readonly known = new LRUCache<string, Run>({ max: 10_000 });
  private readonly inflight = new Set<Promise<unknown>>();
  /** Hand-overs in progress here, by run: an answer that outruns its run's placement waits for it. */
  private readonly handingOver = new Map<string, Promise<void>>();
  private readonly listeners: Array<(run: Run) => void | Promise<void>> = [];
  private readonly log: Logger;
  private readonly spans = new RunSpans();
  /** The one subscription to runs ending on any instance, made at the first wait. */
  private endings?: Promise<unknown>;
  /** Runs waited on here, with how many waits each: one read every `pollMs` checks them all. */
  private readonly waited = new Map<string, number>();
  private sweep?: NodeJS.Timeout;
  private sweeping = false;

  constructor(private readonly deps: RunsDeps) {
    this.log = deps.logger.child({ module: "runs" });
  }

  /**
   * Accepts a prompt; throws `RunQueueFull` when the organization may queue no more, and what the
   * spend gate throws (`BudgetExceeded`) when it may start no more this month.
   */
  async submit(input: SubmitInput, logger?: Logger): Promise<Run> {
    const { store, limits } = this.deps;
    // Before anything is stored: a refused prompt leaves no run behind.
    await this.deps.spend?.check(input.organizationId);
    this.listen();
    // The store opens the session (created on first use) in the same round trip.
    const sessionId = input.sessionId ?? Ids.create(Ids.Prefix.session);
    const id = Ids.create(Ids.Prefix.run);
    const traceparent = this.spans.begin(id, sessionId);
    const admitted = await store.admit(
      {
        id,
        organizationId: input.organizationId,
        sessionId,
        prompt: input.prompt,
        ...(input.userId ? { userId: input.userId } : {}),
        ...(input.category ? { category: input.category } : {}),
        ...(input.load_skills ? { skills: input.load_skills } : {}),
        origin: input.origin ?? { kind: "api" },
        ...(traceparent ? { traceparent } : {}),
      },
      limits,
    ).catch((err: unknown) => {
      this.spans.refused(id);
      throw err;
    });
    if ("refused" in admitted) {
      this.spans.refused(id);
      throw new RunQueueFull({ ...admitted.refused, limit: limits.maxQueued, retryAfterSeconds: 5 });
    }
    this.known.set(admitted.run.id, admitted.run);
    const log = logger ?? this.log;
    log.info({ runId: admitted.run.id, sessionId, status: admitted.run.status }, "run accepted");
    await this.deps.outbox?.record("run.queued", admitted.run);
    if (admitted.run.status === "running") {
      const { mapping } = admitted;
      // Admission read the session's mapping: no second read before the hand-over.
      const known = mapping ? { ...mapping, sessionId, organizationId: input.organizationId } : mapping;
      this.track(this.start(admitted.run, admitted.newSession, known));
      return admitted.run;
    }
    // The run is stored: a failure to start it now is the reconciler's to retry, not the caller's.
    const started = await this.kick(input.organizationId).catch((err: Error) => {
      log.warn({ err: err.message }, "could not start runs now; the reconciler will");
      return [];
    });
    return started.find((run) => run.id === admitted.run.id) ?? admitted.run;
  }

  async get(organizationId: string, runId: string): Promise<Run> {
    const run = await this.deps.store.get(organizationId, runId);
    if (!run) throw new RunNotFound(runId);
    return run;
  }

  /** 1-based position among the organization's waiting runs, for a queued run. */
  queuePosition(run: Run): Promise<number | undefined> {
    return run.status === "queued" ? this.deps.store.queuePosition(run) : Promise.resolve(undefined);
  }

  async listBySession(organizationId: string, sessionId: string, limit = 100): Promise<Run[]> {
    await Sessions.get(this.deps.sessions, organizationId, sessionId);
    return this.deps.store.listBySession(organizationId, sessionId, limit);
  }

  /**
   * Stops a run: a queued one ends without running; a running one (a first turn included) is
   * aborted in the engine, and ends when the sidecar reports it. A finished run is left as it is.
   */
  async abort(organizationId: string, runId: string, logger?: Logger): Promise<Run> {
    const run = await this.get(organizationId, runId);
    return this.stop(run, logger ?? this.log);
  }

  /**
   * The id of the session's running run, if any (a session runs one turn at a time). For callers
   * that act within a run but are not told which, such as the sidecar's MCP tool calls.
   */
  async runningIn(organizationId: string, sessionId: string): Promise<string | undefined> {
    const unfinished = await this.deps.store.unfinished(organizationId, sessionId);
    return unfinished.find((run) => run.status === "running")?.id;
  }

  /** Stops every unfinished run of a session (the waiting ones first); false when none was. */
  async abortSession(organizationId: string, sessionId: string, logger?: Logger): Promise<boolean> {
    const unfinished = await this.deps.store.unfinished(organizationId, sessionId);
    for (const run of unfinished.reverse()) await this.stop(run, logger ?? this.log);
    return unfinished.length > 0;
  }

  /**
   * Resolves with the run once it has ended, wherever it ends: this instance says so at once,
   * another one through the progress log's announcement of endings (one subscription for all
   * waits), and a read of every run waited on here, one statement each `pollMs`, covers an
   * announcement lost on the way. A run this instance has not seen is read first.
   */
  async wait(run: Pick<Run, "id" | "organizationId" | "sessionId">, signal?: AbortSignal): Promise<Run> {
    this.listen();
    let wake: () => void = () => undefined;
    const woken = () => new Promise<void>((resolve) => (wake = resolve));
    let next = woken();
    // Ended on this instance: the ended run comes with the news, no need to read it again.
    let endedHere: Run | undefined;
    const onEnded = (ended?: Run) => {
      if (ended) endedHere = ended;
      wake();
    };
    this.ended.on(run.id, onEnded);
    this.waited.set(run.id, (this.waited.get(run.id) ?? 0) + 1);
    this.sweepWaits();
    const stop = () => wake();
    signal?.addEventListener("abort", stop, { once: true });
    const known = this.known.get(run.id);
    if (known && isFinished(known.status)) endedHere = known;
    try {
      for (let read = !known; ; read = true) {
        if (endedHere) return endedHere;
        if (read) {
          const now = await this.get(run.organizationId, run.id);
          if (isFinished(now.status)) return now;
        }
        if (signal?.aborted) throw signal.reason;
        await next;
        next = woken();
      }
    } finally {
      this.ended.off(run.id, onEnded);
      signal?.removeEventListener("abort", stop);
      const left = (this.waited.get(run.id) ?? 1) - 1;
      if (left > 0) this.waited.set(run.id, left);
      else this.waited.delete(run.id);
    }
  }

  /**
   * While runs are waited on here, every `pollMs` one statement asks which of them have ended and
   * wakes their waits: a wait per run read alone each time was most of this instance's database
   * work with many callers waiting. Stops when nothing is waited on.
   */
  private sweepWaits(): void {
    if (this.sweep) return;
    this.sweep = setInterval(() => {
      if (!this.waited.size) {
        clearInterval(this.sweep);
        this.sweep = undefined;
        return;
      }
      if (this.sweeping) return;
      this.sweeping = true;
      void this.endedAmong([...this.waited.keys()])
        .then((ids) => ids.forEach((id) => this.ended.emit(id)))
        .catch((err: Error) => this.log.debug({ err: err.message }, "could not check the runs waited on; trying again"))
        .finally(() => (this.sweeping = false));
    }, this.deps.pollMs ?? 2_000);
    this.sweep.unref();
  }

  /** Of `ids`, those ended, asked a thousand at a time. */
  private async endedAmong(ids: string[]): Promise<string[]> {
    const found: string[] = [];
    for (let i = 0; i < ids.length; i += 1_000) found.push(...(await this.deps.store.ended(ids.slice(i, i + 1_000))));
    return found;
  }

  /**
   * Applies a sidecar's terminal callback for a run of (organization, session); returns the run's
   * state afterwards. Delivered twice, it is applied once.
   */
  async applyResult(organizationId: string, sessionId: string, result: RunResult, logger?: Logger): Promise<Run> {
    const known = this.known.get(result.runId);
    let run = known && !isFinished(known.status) ? known : await this.deps.store.byId(result.runId);
    if (!run || run.organizationId !== organizationId || run.sessionId !== sessionId) throw new RunNotFound(result.runId);
    if (run.status === "running" && !run.sidecarUrl) run = await this.placedOf(run);
    // The progress that rode with the result goes just before its terminal event, by whichever
    // delivery ends the run (so once).
    const ended = await this.finish(run, endingFrom(result), result.durationMs, logger, result.events);
    return ended ?? (await this.get(organizationId, run.id));
  }

  /**
   * A run answered before its hand-over recorded where it runs (a turn faster than the hand-over's
   * last writes): waits, up to `PLACEMENT_WAIT_MS`, for that record, so the session's mapping is
   * written before the run ends and a follow-up started at once resumes its OpenCode session
   * rather than creating one. The hand-over is awaited when it is here, read for when elsewhere.
   */
  private async placedOf(run: Run): Promise<Run> {
    const deadline = Date.now() + PLACEMENT_WAIT_MS;
    const here = this.handingOver.get(run.id);
    if (here) {
      await Waits.within(here, PLACEMENT_WAIT_MS);
      // Placed here: the hand-over left the placed run in `known`, no need to read it back.
      const placed = this.known.get(run.id);
      if (placed?.status === "running" && placed.sidecarUrl) return placed;
    }
    for (;;) {
      const now = await this.deps.store.byId(run.id);
      if (!now || now.status !== "running" || now.sidecarUrl) return now ?? run;
      if (Date.now() >= deadline) {
        this.log.warn({ runId: run.id }, "a run's answer came and its hand-over has not recorded where it runs; ending it anyway");
        return now;
      }
      await sleep(PLACEMENT_POLL_MS);
    }
  }

  /** Calls `listener` with each run this instance ends (and with undelivered ones, via the reconciler). */
  onFinished(listener: (run: Run) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Starts what may start for the organization (its dispatches go on in the background); returns those runs. */
  async kick(organizationId: string): Promise<Run[]> {
    const claimed = await this.deps.store.claim(organizationId, this.deps.limits);
    for (const run of claimed) {
      this.known.set(run.id, run);
      this.track(this.start(run));
    }
    return claimed;
  }

  /**
   * Ends `run` (unless it has ended already) and writes its history in the same transaction, then
   * appends `progress` (the run's last steps, if any) and its terminal event, and tells listeners.
   * Returns the ended run, or undefined when another path ended it first (nothing is appended).
   */
  async finish(run: Run, ending: Ending, durationMs?: number, logger?: Logger, progress: ProgressEvent[] = []): Promise<Run | undefined> {
    const reachedAgent = Boolean(run.opencodeSessionId ?? ending.opencodeSessionId) && !ending.error?.status;
    const history: HistoryEntry[] = reachedAgent ? historyOf(run, ending, durationMs) : [];
    const ended = await this.deps.store.finish(run.id, ending, history);
    if (!ended) return undefined;
    this.known.set(ended.id, ended);
    this.spans.ended(ended.id, ended.status);
    this.deps.events?.ended?.(ended);
    // Before anyone waiting hears of it: whoever then reads the deliveries finds this one there.
    await this.deps.outbox?.record(`run.${ended.status as "completed" | "failed" | "aborted"}`, ended);
    const log = logger ?? this.log;
    log.info({ runId: ended.id, sessionId: ended.sessionId, status: ended.status, reason: ended.reason ?? undefined }, "run ended");
    const stream = streamOf(ended.organizationId, ended.sessionId);
    // Made together: stored in this order, in one round trip.
    const appended = Promise.all([...progress, terminalEvent(ended) as ProgressEvent].map((event) => this.deps.progress.append(stream, event))).catch((err: Error) =>
      log.warn({ runId: ended.id, err: err.message }, "could not append the run's last progress and terminal event"),
    );
    // The answer is stored: a caller waiting here has it now, while the stream gets its end (a
    // round trip that takes milliseconds on a busy machine). Other instances hear of it from the stream.
    this.ended.emit(ended.id, ended);
    await appended;
    await this.notify(ended);
    // A slot is free. A run still unplaced (its hand-over outlasted `placedOf`'s wait, or failed
    // one) is kicked by its dispatch instead, once the mapping a follow-up needs is written.
    if (ended.sidecarUrl || !run.startedAt) await this.kick(ended.organizationId).catch((err: Error) => log.warn({ err: err.message }, "kick failed"));
    return ended;
  }

  /**
   * Fails the runs running on a sidecar that stopped answering: their answers are lost with it.
   * Their sessions move to another sidecar on their next run. Safe on every instance at once.
   */
  async failOn(sidecarUrl: string, reason: string): Promise<number> {
    let failed = 0;
    for (const run of await this.deps.store.runningOn(sidecarUrl, 1_000)) {
      const message = `${reason} while running this; its answer is lost, send the prompt again`;
      if (await this.finish(run, { status: "failed", reason: message, error: { code: "sidecar_lost", message } })) failed++;
    }
    if (failed) this.log.warn({ sidecarUrl, failed }, "failed the runs of a sidecar that is gone");
    return failed;
  }

  /** Tells listeners about a run (the reconciler uses it for answers never handed over). */
  async notify(run: Run): Promise<void> {
    for (const listener of this.listeners) {
      try {
        await listener(run);
      } catch (err) {
        this.log.warn({ runId: run.id, err: (err as Error).message }, "run listener failed");
      }
    }
  }

  /** Claims the right to hand a finished run's answer to where it came from; true once. */
  claimDelivery(runId: string): Promise<boolean> {
    return this.deps.store.claimDelivery(runId);
  }

  /** Waits (up to `timeoutMs`) for dispatches in flight, at shutdown. */
  async drain(timeoutMs: number): Promise<void> {
    await Waits.within(Promise.allSettled([...this.inflight]), timeoutMs);
    this.spans.close();
  }

  /**
   * Hands `run` to a sidecar; `newSession`: its session was created with it, so has no mapping
   * yet; `mapping`: its session's mapping as admission read it (`null`: none), when it did.
   */
  private start(run: Run, newSession = false, mapping?: MappingRecord | null): Promise<void> {
    const handing = this.spans.dispatching(run, () => this.handOver(run, newSession, mapping));
    this.handingOver.set(run.id, handing);
    const done = () => void this.handingOver.delete(run.id);
    handing.then(done, done);
    return handing;
  }

  private async handOver(run: Run, newSession: boolean, mapping?: MappingRecord | null): Promise<void> {
    const log = this.log.child({ runId: run.id, sessionId: run.sessionId, organizationId: run.organizationId });
    this.deps.events?.starting?.(run);
    // Recorded before the hand-over, so it precedes the run's end however fast that comes.
    await this.deps.outbox?.record("run.started", run);
    const outcome = await dispatch(this.deps, run, log, newSession, mapping);
    if ("refused" in outcome) {
      log.warn({ reason: outcome.refused.reason }, "run not started");
      await this.finish(run, outcome.refused, undefined, log);
      await this.kick(run.organizationId);
      return;
    }
    const { opencodeSessionId, sidecarUrl } = outcome.placed;
    const placed = await this.deps.store.placed(run.id, outcome.placed);
    if (!placed) {
      // It ended while being handed over: aborted (tell the engine), or already answered.
      const now = await this.deps.store.byId(run.id);
      if (now?.status === "aborted") await this.deps.sidecar.abort(sidecarUrl, opencodeSessionId, log).catch(() => undefined);
      await this.kick(run.organizationId);
      return;
    }
    const seen = this.known.get(run.id);
    if (!seen || !isFinished(seen.status)) this.known.set(run.id, placed);
    log.info({ opencodeSessionId, sidecarUrl }, "run started");
    if (placed.abortRequested) await this.deps.sidecar.abort(sidecarUrl, opencodeSessionId, log).catch(() => undefined);
  }

  private async stop(run: Run, log: Logger): Promise<Run> {
    if (isFinished(run.status)) return run;
    if (run.status === "queued") {
      const ended = await this.finish(run, { status: "aborted", reason: "stopped before it started" }, undefined, log);
      if (ended) return ended;
    }
    const marked = await this.deps.store.requestAbort(run.id);
    if (marked?.sidecarUrl && marked.opencodeSessionId) {
      try {
        await this.deps.sidecar.abort(marked.sidecarUrl, marked.opencodeSessionId, log);
      } catch (err) {
        // Reconciliation settles it: the sidecar reports the run's end, or is found gone.
        log.warn({ runId: run.id, err: (err as Error).message }, "abort did not reach the sidecar");
      }
    }
    return (await this.deps.store.byId(run.id)) ?? run;
  }

  /**
   * Subscribes, once, to runs ending on any instance: a wait on one wakes, and what this instance
   * knew of it is dropped, so a later wait reads it rather than trusting a stale state.
   */
  private listen(): void {
    this.endings ??= this.deps.progress
      .watchEndings((runId) => {
        const seen = this.known.get(runId);
        if (seen && !isFinished(seen.status)) this.known.delete(runId);
        this.spans.ended(runId);
        this.ended.emit(runId);
      })
      .catch((err: Error) => {
        this.log.warn({ err: err.message }, "cannot hear of runs ending elsewhere; waits poll instead");
        this.endings = undefined;
      });
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((err: Error) => this.log.error({ err: err.message }, "run dispatch failed"));
    this.inflight.add(tracked);
    void tracked.finally(() => this.inflight.delete(tracked));
  }
}
