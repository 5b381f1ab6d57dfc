import type { ApiRun, WebhookEvent, WebhookEventType } from "@nubabel/contracts";
import type { CacheChanges } from "../cache/changes.js";
import { Recent } from "../cache/recent.js";
import type { Logger } from "../log/logger.js";
import type { Run, RunEventType, RunOutbox } from "../runs/index.js";
import type { WebhookStore } from "./ports.js";

/** What an approval notice needs to say here (the approvals module's `ApprovalNotice`, narrowed). */
export interface ApprovalNoticeLike {
  type: "requested" | "resolved";
  approval: { id: string; organizationId: string; runId: string };
}

export interface WebhookOutboxDeps {
  store: WebhookStore;
  /** The run as `GET /api/runs/:runId` shows it (`viewRun`). */
  view(run: Run): Promise<ApiRun>;
  /** A run of the organization (for approval events, which name their run). */
  run(organizationId: string, runId: string): Promise<Run | undefined>;
  retryForMs: number;
  /** Told after an event is stored, so this instance sends it at once. */
  wake(): void;
  /** How long the event types an organization listens to are reused (`SETTINGS_CACHE_MS`). */
  cacheMs?: number;
  /** Where a change of endpoints made here is announced to the other instances (and theirs heard). */
  changes?: CacheChanges;
  log: Logger;
}

/**
 * Records lifecycle events as deliveries, in PostgreSQL, before anything is sent: whichever
 * instance then claims them sends them, after a restart too. A failure to record is logged, never
 * thrown: a webhook must not fail the run it tells of.
 */
export class WebhookOutbox implements RunOutbox {
  private readonly log: Logger;
  /** Read for every run event; most organizations have no endpoint, and this spares them a query each. */
  private readonly listened: Recent<WebhookEventType[]>;

  constructor(private readonly deps: WebhookOutboxDeps) {
    this.log = deps.log.child({ module: "webhooks" });
    this.listened = new Recent((organizationId) => deps.store.listened(organizationId), {
      ttlMs: deps.cacheMs ?? 0,
      ...(deps.changes ? { changes: { feed: deps.changes, name: "webhook-listeners" } } : {}),
    });
  }

  /** The organization's endpoints changed (here): its next event reads them again. */
  changed(organizationId: string): void {
    this.listened.forget(organizationId);
  }

  record(type: RunEventType, run: Run): Promise<void> {
    return this.add(type, run, "");
  }

  /** For `ApprovalDecider.subscribe`: `approval.requested` / `approval.resolved`, with the run and its approvals. */
  async approval(notice: ApprovalNoticeLike): Promise<void> {
    const { approval } = notice;
    const run = await this.deps.run(approval.organizationId, approval.runId).catch((err: Error) => {
      this.log.warn({ runId: approval.runId, err: err.message }, "could not read the run of an approval; no webhook");
      return undefined;
    });
    if (run) await this.add(`approval.${notice.type}`, run, approval.id);
  }

  /**
   * Records the endings of runs that ended in the last `withinMs` without one (an instance killed
   * between ending a run and recording its event). Recording twice is harmless: one delivery per
   * event and endpoint. Returns how many runs it caught up.
   */
  async catchUp(withinMs: number): Promise<number> {
    try {
      const missed = await this.deps.store.missedEndings(new Date(Date.now() - withinMs), 500);
      for (const { organizationId, runId } of missed) {
        const run = await this.deps.run(organizationId, runId);
        if (run && (run.status === "completed" || run.status === "failed" || run.status === "aborted")) await this.record(`run.${run.status}`, run);
      }
      if (missed.length) this.log.info({ runs: missed.length }, "recorded run endings an earlier instance had not");
      return missed.length;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "could not look for unrecorded run endings");
      return 0;
    }
  }

    private async add(type: WebhookEventType, run: Run, eventKey: string): Promise<void> {
    try {
      if (!(await this.listened.get(run.organizationId)).includes(type)) return;
      const event: WebhookEvent = { type, timestamp: new Date().toISOString(), data: await this.deps.view(run) };
      const added = await this.deps.store.enqueue(
        { organizationId: run.organizationId, runId: run.id, type, eventKey, payload: JSON.stringify(event) },
        this.deps.retryForMs,
      );
      if (added) this.deps.wake();
    } catch (err) {
      this.log.warn({ runId: run.id, type, err: (err as Error).message }, "could not record a webhook event");
    }
  }
}
