import { isFinished, MAX_RUNS_QUERY, Periodic, type SidecarRun } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import type { SidecarClient } from "../sidecar/client.js";
import { SidecarUnavailable } from "../sidecar/errors.js";
import { endingFrom } from "./outcome.js";
import type { RunStore } from "./ports.js";
import type { Run } from "./run.js";
import type { Runs } from "./runs.js";

export interface ReconcilerOptions {
  runs: Runs;
  store: RunStore;
  sidecar: SidecarClient;
  logger: Logger;
  /** How often it looks; a run is asked about when its sidecar has not confirmed it for this long. */
  intervalMs: number;
  /** A sidecar silent this long about a run has lost it (it is gone, or restarted without it). */
  lostAfterMs: number;
  /** A run started this long ago that never reached a sidecar was lost in a crash mid-dispatch. */
  dispatchTimeoutMs: number;
  /** Finished runs whose answer nobody handed over for this long are handed over here. */
  deliveryGraceMs: number;
}

/**
 * Settles what this instance (or a crashed one) believes is running by asking the sidecar that
 * runs it (`GET /runs/:id`): an answer produced while Nubabel was down is recovered, a run its
 * sidecar no longer knows fails with a reason a person understands. It also starts queued runs a
 * lost wake-up left waiting and hands over answers nobody delivered. Every step is idempotent, so
 * any number of instances may run it at once.
 */
export class Reconciler {
  private passes: Periodic.Periodic | undefined;
  private readonly log: Logger;

  constructor(private readonly o: ReconcilerOptions) {
    this.log = o.logger.child({ module: "reconciler" });
  }

  start(): void {
    this.passes = Periodic.every(
      { everyMs: this.o.intervalMs, firstAfterMs: 0, onError: (err) => this.log.warn({ err: err.message }, "reconciliation failed") },
      () => this.once(),
    );
  }

  /** Stops the timer and waits a little for a pass in flight (one stuck on a dead database is left). */
  async stop(): Promise<void> {
    await this.passes?.stop(5_000);
  }

  /** One pass (tests call it directly). */
  async once(): Promise<void> {
    const now = Date.now();
    const placed = new Map<string, Stale[]>();
    for (const run of await this.o.store.stale(new Date(now - this.o.intervalMs), MAX_RUNS_QUERY)) {
      if (run.sidecarUrl) {
        const onIt = placed.get(run.sidecarUrl) ?? [];
        placed.set(run.sidecarUrl, onIt);
        onIt.push(run);
      } else if (run.startedAt && now - run.startedAt.getTime() > this.o.dispatchTimeoutMs && (await this.o.store.requeue(run.id))) {
        this.logFor(run).warn("run never reached a sidecar; queued again");
      }
    }
    for (const [sidecarUrl, runs] of placed) await this.settle(sidecarUrl, runs, now);
    for (const organizationId of await this.o.store.organizationsWithQueued(100)) await this.o.runs.kick(organizationId);
    for (const run of await this.o.store.undelivered(new Date(now - this.o.deliveryGraceMs), 50)) await this.o.runs.notify(run);
  }

  /**
   * Asks one sidecar about the runs believed running on it, all in one request (one by one from a
   * sidecar older than `POST /runs/query`), and settles each by its answer: ended there, ended
   * here; unknown there, lost; running, confirmed (one statement for all).
   */
  private async settle(sidecarUrl: string, runs: Stale[], now: number): Promise<void> {
    let known: Map<string, SidecarRun | undefined>;
    try {
      known = await this.ask(sidecarUrl, runs);
    } catch (err) {
      for (const run of runs) {
        const silentMs = now - (run.checkedAt ?? run.startedAt ?? run.createdAt).getTime();
        if (err instanceof SidecarUnavailable && silentMs > this.o.lostAfterMs) {
          await this.o.runs.finish(run, lost(`the sidecar running it has not answered for ${Math.round(silentMs / 1000)} s; its answer is lost, send the prompt again`));
        } else {
          this.logFor(run).info({ err: (err as Error).message }, "could not ask the sidecar about a run; will ask again");
        }
      }
      return;
    }
    const running: string[] = [];
    for (const run of runs) {
      const remote = known.get(run.id);
      if (!remote) {
        await this.o.runs.finish(run, lost("the sidecar no longer knows this run (it restarted during it); its answer was lost, send the prompt again"));
      } else if (isFinished(remote.status)) {
        if (await this.o.runs.finish(run, endingFrom(remote), remote.durationMs)) this.logFor(run).info({ status: remote.status }, "run's end recovered from its sidecar");
      } else {
        running.push(run.id);
      }
    }
    await this.o.store.touch(running);
  }

  /** The sidecar's record of each run, undefined for those it does not know. */
  private async ask(sidecarUrl: string, runs: Stale[]): Promise<Map<string, SidecarRun | undefined>> {
    const ids = runs.map((run) => run.id);
    const answered = await this.o.sidecar.runs(sidecarUrl, ids, this.log);
    if (answered) return new Map(answered.map((remote) => [remote.runId, remote]));
    // One by one: the first failure counts for all, as a failed query would.
    const known = new Map<string, SidecarRun | undefined>();
    for (const run of runs) known.set(run.id, await this.o.sidecar.run(sidecarUrl, run.id, this.logFor(run)));
    return known;
  }

  private logFor(run: Stale): Logger {
    return this.log.child({ runId: run.id, sessionId: run.sessionId, organizationId: run.organizationId });
  }
}

type Stale = Run & { checkedAt: Date | null };

function lost(reason: string) {
  return { status: "failed" as const, reason, error: { code: "run_lost", message: reason } };
}
