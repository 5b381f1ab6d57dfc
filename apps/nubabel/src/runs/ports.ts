import type { ContextRestored } from "@nubabel/contracts";
import type { MappingRecord } from "../mapping/ports.js";
import type { Ending, Origin, Run } from "./run.js";

/** Where a run was handed over: its OpenCode session on a sidecar (a new one, if its session moved). */
export interface Placed {
  opencodeSessionId: string;
  sidecarUrl: string;
  contextRestored?: ContextRestored;
}

export interface NewRun {
  id: string;
  organizationId: string;
  sessionId: string;
  prompt: string;
  userId?: string;
  category?: string;
  skills?: string[];
  origin: Origin;
  traceparent?: string;
}

/**
 * Whether the organization may submit another run at all, asked before admission (the budget).
 * Rejects with a typed error (`BudgetExceeded`) saying why; never asked again for a queued run.
 */
export interface SpendGate {
  check(organizationId: string): Promise<void>;
}

/** Per-organization admission limits. */
export interface Limits {
  maxRunning: number;
  maxQueued: number;
}

/** What a finished run adds to its session's history, written in the same transaction as the ending. */
export interface HistoryEntry {
  role: "user" | "assistant";
  id: string;
  content: string;
  metadata: Record<string, unknown>;
  createdAt?: Date;
}

/** A run `RunStore.admit` added. */
export interface Admitted {
  run: Run;
  newSession: boolean;
  /** Set when the run starts at once in a session that existed: where its session runs, if anywhere yet. */
  mapping?: Pick<MappingRecord, "opencodeSessionId" | "sidecarUrl"> | null;
}

/**
 * Runs in PostgreSQL, the source of truth for every instance. Each state change is one
 * transaction; admission and starting hold the organization's advisory lock, so limits hold across
 * instances. Moves are conditional on the current state, so a change applied twice (a result
 * delivered again, two instances reconciling) happens once.
 */
export interface RunStore {
  /**
   * Opens the run's session (created on first use, with `userId`), then adds the run unless the
   * organization already has `maxRunning + maxQueued` unfinished runs (then returns `{ refused }`
   * with the counts). It is added `running` (claimed, the caller starts it) when nothing of the
   * organization waits, a slot is free and its session has no running run; otherwise `queued`,
   * for `claim`. A run added `running` to a session that existed comes with the session's
   * mapping as it stood then (`null`: none), read after the session's earlier runs were seen
   * ended, so a move one of them made is in it.
   */
  admit(run: NewRun, limits: Limits): Promise<Admitted | { refused: { running: number; queued: number } }>;
  /**
   * Moves to `running` the queued runs that may start now, oldest first: at most `maxRunning`
   * running for the organization, and only the oldest unfinished run of each session.
   */
  claim(organizationId: string, limits: Limits): Promise<Run[]>;
  get(organizationId: string, runId: string): Promise<Run | undefined>;
  /** The run whatever its organization (callbacks check the organization themselves). */
  byId(runId: string): Promise<Run | undefined>;
  /** Of `runIds`, those that have ended. */
  ended(runIds: string[]): Promise<string[]>;
  listBySession(organizationId: string, sessionId: string, limit: number): Promise<Run[]>;
  /** Unfinished runs of a session, oldest first. */
  unfinished(organizationId: string, sessionId: string): Promise<Run[]>;
  /** 1-based position among the organization's queued runs. */
  queuePosition(run: Run): Promise<number>;
  /** Records where the sidecar runs it (after it accepted). */
  placed(runId: string, placement: Placed): Promise<Run | undefined>;
  /** Running runs placed on `sidecarUrl`, oldest first (its end fails them). */
  runningOn(sidecarUrl: string, limit: number): Promise<Run[]>;
  /** Marks a running run to be aborted (its sidecar is told separately). */
  requestAbort(runId: string): Promise<Run | undefined>;
  /**
   * Ends the run if it is still unfinished and appends `history` to its session in the same
   * transaction; returns the ended run, or undefined when it had already ended (nothing written).
   */
  finish(runId: string, ending: Ending, history: HistoryEntry[]): Promise<Run | undefined>;
  /** Puts a running run back in the queue (its dispatch never reached a sidecar). */
  requeue(runId: string): Promise<boolean>;
  /** Notes that the runs' sidecar confirmed them now. */
  touch(runIds: string[]): Promise<void>;
  /** Running runs last confirmed before `before` (or never), for reconciliation. */
  stale(before: Date, limit: number): Promise<Array<Run & { checkedAt: Date | null }>>;
  /** Running and queued runs of every organization (the metrics' gauges; `runs_status_idx` keeps it cheap). */
  unfinishedCounts(): Promise<{ running: number; queued: number }>;
  /** Organizations with queued runs (a sweep starts what a lost wake-up left waiting). */
  organizationsWithQueued(limit: number): Promise<string[]>;
  /** Claims the right to hand the answer to its origin; true once per run. */
  claimDelivery(runId: string): Promise<boolean>;
  /** Finished runs from Slack whose answer was not handed over, finished before `before`. */
  undelivered(before: Date, limit: number): Promise<Run[]>;
  /** Merges into the run's origin (a Slack progress message's ts, once posted). */
  updateOrigin(runId: string, patch: Partial<Extract<Origin, { kind: "slack" }>>): Promise<void>;
}

/**
 * What a run's lifecycle tells whoever watches it (metrics): synchronous and cheap, never awaited,
 * so a watcher cannot slow or fail a run. `ended` fires once per run, on the instance that ended it.
 */
export interface RunEvents {
  /** The run is about to be handed to a sidecar. */
  starting?(run: Run): void;
  ended?(run: Run): void;
}

/** The moves of a run that programs outside may hear of (webhooks name them so). */
export type RunEventType = "run.queued" | "run.started" | "run.completed" | "run.failed" | "run.aborted";

/**
 * Whoever must keep a durable note of a run's moves (the webhook outbox). Unlike `RunEvents` it is
 * awaited, so what it records for one run is recorded in the run's order (`run.started` before the
 * end, even when the end comes first through another path). It must not throw; a failure is its
 * to log, never the run's. Each terminal move is told once, on the instance that made it.
 */
export interface RunOutbox {
  record(type: RunEventType, run: Run): Promise<void>;
}
