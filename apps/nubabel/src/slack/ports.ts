import type { DelegateResponse, ProgressEvent } from "@nubabel/contracts";

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

/** What the bot asks of Nubabel's core for one turn. */
export interface DelegateTurn {
  organizationId: string;
  sessionId: string;
  prompt: string;
  /** The Slack user, as `slack:<team>:<user>`. */
  userId: string;
}

/**
 * Nubabel's core as the Slack bot sees it, implemented in `main.ts` over `Delegation`, the session
 * mapping, the sidecar client and the progress log, so this module imports none of them.
 * Failures reject with the core's typed errors; the bot keys on their `name`
 * (`SidecarUnavailable`, `SidecarRejected`, `DelegationBusy`, `SessionNotFound`, …).
 */
export interface NubabelPort {
  /** Runs `prompt` in the session (created on first use) and resolves when the turn ends. */
  delegate(turn: DelegateTurn): Promise<DelegateResponse>;
  /** Aborts the session's running turn; false when nothing was running (or it has no OpenCode session yet). */
  abort(input: { organizationId: string; sessionId: string }): Promise<boolean>;
  /**
   * Calls `onEvent` with the session's progress events appended from now on, in order, until the
   * returned function is called. Resolves once the subscription is live, so nothing emitted by a
   * delegation started afterwards is missed.
   */
  watchProgress(sessionId: string, onEvent: (event: ProgressEvent) => void): Promise<() => Promise<void>>;
}

/** Everything `createSlackBot` needs from the rest of Nubabel. */
export interface SlackPorts {
  links: SlackLinks;
  threads: SlackThreads;
  dedupe: EventDedupe;
  nubabel: NubabelPort;
}
