import type { DelegateResponse, ProgressEvent, RunState } from "@nubabel/contracts";
import type { ApprovalDecider } from "../approvals/ports.js";

/** A Slack thread: the workspace, the channel, and the `ts` of the thread's first message. */
export interface ThreadKey {
  teamId: string;
  channelId: string;
  threadTs: string;
}

/** The Nubabel session a thread talks to, and the organization it was started for. */
export interface ThreadRecord {
  sessionId: string;
  organizationId: string;
}

/**
 * Which Nubabel organization a Slack workspace (team id) belongs to. Written by
 * `nubabel org link-slack`; read on every event, so adapters may cache briefly.
 */
export interface SlackLinks {
  /** The linked organization, or `undefined` for a workspace nobody linked. */
  organizationFor(teamId: string): Promise<string | undefined>;
}

/**
 * Threads the bot takes part in. A thread is bound to one Nubabel session for good, so a follow-up
 * resumes the same OpenCode session; the Postgres adapter makes that survive restarts and hold
 * across instances.
 */
export interface SlackThreads {
  /** The thread's record, or `undefined` when the bot was never mentioned in it. */
  find(thread: ThreadKey): Promise<ThreadRecord | undefined>;
  /**
   * Binds the thread to `record` unless it is bound already, and returns the binding that is kept.
   * Race-safe: two first mentions of one thread (on any instances) both get the same record.
   */
  claim(thread: ThreadKey, record: ThreadRecord): Promise<ThreadRecord>;
}

/**
 * Remembers which Slack deliveries were handled. Slack redelivers an event (same `event_id`,
 * `x-slack-retry-num` set) when it missed our ack; a claimed key must never run a task twice.
 * The shape of `Webhooks.ReplayGuard`, so Nubabel's Redis and in-process guards serve as is.
 */
export interface EventDedupe {
  /** True the first time `key` is claimed within `ttlSeconds` (on any instance), false for every later claim. */
  claim(key: string, ttlSeconds: number): Promise<boolean>;
}

/**
 * Where a Slack turn came from, stored with its run so its answer reaches the thread from any
 * instance, also after a restart. The core's run origin has the same shape.
 */
export interface SlackOrigin {
  kind: "slack";
  teamId: string;
  channelId: string;
  threadTs: string;
  /** The person's message that asked. */
  messageTs?: string;
  /** The bot's progress message, edited into the answer at the end (set once posted). */
  progressTs?: string;
  userId: string;
}

/** What the bot asks of Nubabel's core for one turn. */
export interface TurnRequest {
  organizationId: string;
  sessionId: string;
  prompt: string;
  /** The Slack user, as `slack:<team>:<user>`. */
  userId: string;
  origin: SlackOrigin;
}

/** A run as the bot sees it (the core's run has these fields and more). */
export interface TurnRun {
  id: string;
  organizationId: string;
  sessionId: string;
  status: RunState;
  origin: SlackOrigin | { kind: "api" };
  /** Unset while queued: a run aborted without a start was cancelled, not stopped. */
  startedAt: Date | null;
  finishedAt: Date | null;
}

/**
 * Nubabel's runs as the Slack bot sees them, implemented in `main.ts` over `Runs`, so this module
 * imports none of the core. Failures reject with the core's typed errors; the bot keys on their
 * `name` (`RunQueueFull`, `SidecarUnavailable`, `SidecarRejected`, `SessionNotFound`, …).
 */
export interface NubabelPort {
  /**
   * Accepts the turn as a run (stored at once, with its origin), `queued` or already `running`;
   * runs of one session run in order. Rejects with `RunQueueFull` when the organization may queue
   * no more.
   */
  submit(turn: TurnRequest): Promise<TurnRun>;
  /** Resolves with the run once it has ended, wherever it ended; rejects once `signal` aborts. */
  wait(run: TurnRun, signal?: AbortSignal): Promise<TurnRun>;
  /** The run with this id (rejects with `RunNotFound` for none, or another organization's). */
  run(organizationId: string, runId: string): Promise<TurnRun>;
  /** The run's state now, and its 1-based place among its organization's waiting runs while queued. */
  state(run: TurnRun): Promise<{ status: RunState; queuePosition?: number | undefined }>;
  /**
   * The answer of an ended run in the seed's shape; rejects with the typed error a run refused
   * before it reached the agent ended with (an unreachable sidecar, a refused category, …).
   */
  answer(run: TurnRun): Promise<DelegateResponse>;
  /** Stops every unfinished run of the session (queued ones end unstarted); false when none was. */
  abort(input: { organizationId: string; sessionId: string }): Promise<boolean>;
  /**
   * Calls `onEvent` with the session's progress events appended from now on, in order, until the
   * returned function is called. Resolves once the subscription is live, so nothing emitted by a
   * run submitted afterwards is missed.
   */
  watchProgress(organizationId: string, sessionId: string, onEvent: (event: ProgressEvent) => void): Promise<() => Promise<void>>;
  /** Stores the progress message's ts in the run's origin, so whoever hands the answer over edits it. */
  setProgressMessage(runId: string, ts: string): Promise<void>;
  /** Claims the right to hand the run's answer to its thread: true once per run, on any instance. */
  claimDelivery(runId: string): Promise<boolean>;
}

/** Everything `createSlackBot` needs from the rest of Nubabel. */
export interface SlackPorts {
  links: SlackLinks;
  threads: SlackThreads;
  dedupe: EventDedupe;
  nubabel: NubabelPort;
  /**
   * Approvals, when Nubabel asks for them: requested ones get a message with Approve / Deny
   * buttons in their run's thread, and a press decides through here.
   */
  approvals?: ApprovalDecider;
}

export type { ApprovalDecider, ApprovalNotice, Decider, StoredApproval } from "../approvals/ports.js";
