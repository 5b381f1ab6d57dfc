import { Ids, isFinished, Waits } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import { handOver } from "./delivery.js";
import { systemClock, type Clock } from "./live-message.js";
import type { SlackOrigin, SlackPorts, ThreadKey, ThreadRecord, TurnRun } from "./ports.js";
import { Replies } from "./replies.js";
import { isStopCommand, promptFromSlack } from "./text.js";
import { Turn } from "./turn.js";
import type { SlackApi } from "./web-api.js";

/** A person's message, already checked at the boundary. */
export interface IncomingMessage {
  teamId: string;
  channelId: string;
  ts: string;
  threadTs?: string;
  userId: string;
  text: string;
  /** Slack's `event_id`, carried on every log line of the turn. */
  eventId?: string;
}

export interface ConversationsOptions {
  ports: SlackPorts;
  api: SlackApi;
  /** The bot's user id, known once `auth.test` answered (mentions of it are stripped). */
  botUserId: () => string | undefined;
  updateIntervalMs: number;
  /** How often a queued run's place in line is looked up (default 2 s). */
  queuePollMs?: number;
  /**
   * How long after a run ended an instance that did not wait for it leaves the answer to the one
   * that did (which claims it within its wait's poll), before handing it over itself (default 2 s).
   */
  handOverGraceMs?: number;
  logger: Logger;
  clock?: Clock;
}

/**
 * Slack threads as Nubabel sessions: a mention starts or resumes the thread's session, a message in a
 * known thread resumes it, `stop` (or an `:x:` reaction) stops its runs. Each request is a durable
 * run (the core runs a session's runs in order, on any instance); the turn waiting for it here
 * edits its progress message into the answer, and a run nobody waits for (this or another instance
 * restarted) is handed over to its thread by `handOver`, exactly once.
 */
export class Conversations {
  /** Turns this instance waits for, by run id: their answers are theirs to write. */
  private readonly waiting = new Map<string, Turn>();
  /** Unfinished turns of each thread here, oldest first. */
  private readonly byThread = new Map<string, Turn[]>();
  /** Message ts → thread, for the messages of turns running here (what an `:x:` reaction lands on). */
  private readonly turnMessages = new Map<string, ThreadKey>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly closing = new AbortController();
  private readonly log: Logger;

  constructor(private readonly options: ConversationsOptions) {
    this.log = options.logger.child({ module: "slack" });
  }

  /** An `app_mention`: starts the thread's session on first mention. */
  async mention(message: IncomingMessage): Promise<void> {
    const thread = threadOf(message);
    const organizationId = await this.options.ports.links.organizationFor(message.teamId);
    if (!organizationId) {
      this.log.info({ teamId: message.teamId, eventId: message.eventId }, "mention from an unlinked workspace");
      await this.options.api.post(thread.channelId, thread.threadTs, Replies.unlinked(message.teamId));
      return;
    }
    const prompt = promptFromSlack(message.text, this.options.botUserId());
    if (!prompt) {
      await this.options.api.post(thread.channelId, thread.threadTs, Replies.emptyPrompt);
      return;
    }
    const existing = await this.options.ports.threads.find(thread);
    if (isStopCommand(prompt)) return this.stop(thread, existing);
    const record = existing ?? (await this.options.ports.threads.claim(thread, { sessionId: Ids.create(Ids.Prefix.session), organizationId }));
    await this.turn(thread, record, organizationId, prompt, message);
  }

  /** A plain message: resumes the session only in a thread the bot already takes part in. */
  async threadMessage(message: IncomingMessage): Promise<void> {
    if (!message.threadTs) return;
    const thread = threadOf(message);
    const record = await this.options.ports.threads.find(thread);
    if (!record) return;
    const prompt = promptFromSlack(message.text, this.options.botUserId());
    if (!prompt) return;
    if (isStopCommand(prompt)) return this.stop(thread, record);
    const organizationId = await this.options.ports.links.organizationFor(message.teamId);
    if (!organizationId) {
      await this.options.api.post(thread.channelId, thread.threadTs, Replies.unlinked(message.teamId));
      return;
    }
    await this.turn(thread, record, organizationId, prompt, message);
  }

  /** An `:x:` reaction on the thread's root, the prompt or the progress message stops the thread's runs. */
  async reaction(input: { teamId: string; channelId: string; itemTs: string; reaction: string }): Promise<void> {
    if (input.reaction !== "x") return;
    await this.stopAt(input);
  }

  /** The Stop button of a progress message: the same as `stop` in the message's thread. */
  async stopPressed(input: { teamId: string; channelId: string; itemTs: string; threadTs?: string }): Promise<void> {
    await this.stopAt(input);
  }

  /** Stops the runs of the thread the message `itemTs` is in (when the bot knows that thread). */
  private async stopAt(input: { teamId: string; channelId: string; itemTs: string; threadTs?: string }): Promise<void> {
    let thread = input.threadTs ? { teamId: input.teamId, channelId: input.channelId, threadTs: input.threadTs } : this.turnMessages.get(`${input.channelId}:${input.itemTs}`);
    if (!thread) {
      // The turn may run on another instance: ask Slack which thread the message is in.
      const threadTs = await this.options.api.threadOf(input.channelId, input.itemTs).catch(() => undefined);
      if (!threadTs) return;
      thread = { teamId: input.teamId, channelId: input.channelId, threadTs };
    }
    const record = await this.options.ports.threads.find(thread);
    if (record) await this.stop(thread, record);
  }

  /**
   * A run ended (here or, through reconciliation, anywhere). Unless a turn here waits for it, its
   * answer is handed over to its thread after a grace period that lets a waiting turn on another
   * instance claim it first. Returns at once: the run's ending must not wait for Slack.
   */
  handOver(run: TurnRun): void {
    if (run.origin.kind !== "slack" || !isFinished(run.status) || this.waiting.has(run.id) || this.closing.signal.aborted) return;
    const slackRun = run as TurnRun & { origin: SlackOrigin };
    const { clock = systemClock, handOverGraceMs = 2_000 } = this.options;
    const work = (async () => {
      const endedAt = run.finishedAt?.getTime() ?? clock.now();
      const wait = endedAt + handOverGraceMs - clock.now();
      if (wait > 0) await clock.sleep(wait, this.closing.signal);
      // Stopping: the answer stays unclaimed, so reconciliation hands it over after the restart.
      if (this.closing.signal.aborted || this.waiting.has(run.id)) return;
      await handOver({ port: this.options.ports.nubabel, api: this.options.api, log: this.log }, slackRun);
    })().catch((err: Error) => this.log.warn({ runId: run.id, err: err.message }, "could not hand the answer over to its thread"));
    this.track(work);
  }

  /**
   * Waits up to `timeoutMs` for the turns running here, then lets go of those still running: the
   * runs go on (they are durable), their messages say the answer will follow, and whoever claims
   * an answer (this instance after a restart, or another) edits the message into it.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.closing.abort();
    await settle(this.inflight, timeoutMs);
    for (const turn of this.waiting.values()) turn.stopWaiting();
    for (const turns of this.byThread.values()) for (const turn of turns) turn.stopWaiting();
    await settle(this.inflight, 5_000);
  }

  private async stop(thread: ThreadKey, record: ThreadRecord | undefined): Promise<void> {
    const { api, ports } = this.options;
    if (!record) {
      await api.post(thread.channelId, thread.threadTs, Replies.nothingToStop);
      return;
    }
    // A request of this thread still being accepted here becomes a run first, so `stop` covers it.
    await Promise.allSettled((this.byThread.get(keyOf(thread)) ?? []).map((turn) => turn.submitted));
    let reply: string;
    try {
      const aborted = await ports.nubabel.abort({ organizationId: record.organizationId, sessionId: record.sessionId });
      reply = aborted ? Replies.stopping : Replies.nothingToStop;
      this.log.info({ sessionId: record.sessionId, aborted }, "stop requested in Slack");
    } catch (err) {
      this.log.warn({ sessionId: record.sessionId, err: (err as Error).message }, "abort failed");
      reply = Replies.stopFailed;
    }
    await api.post(thread.channelId, thread.threadTs, reply);
  }

  private async turn(thread: ThreadKey, record: ThreadRecord, organizationId: string, prompt: string, message: IncomingMessage): Promise<void> {
    if (record.organizationId !== organizationId) {
      // The workspace was relinked: the old organization's session must not run for the new one.
      await this.options.api.post(thread.channelId, thread.threadTs, Replies.otherOrganization);
      return;
    }
    const { api, ports, updateIntervalMs, queuePollMs = 2_000, clock = systemClock } = this.options;
    const key = keyOf(thread);
    const log = this.log.child({ eventId: message.eventId, sessionId: record.sessionId, channelId: thread.channelId, threadTs: thread.threadTs });
    const messages = [`${thread.channelId}:${message.ts}`];
    const siblings = this.byThread.get(key) ?? [];
    this.byThread.set(key, siblings);
    const turn: Turn = new Turn(
      { port: ports.nubabel, api, updateIntervalMs, queuePollMs, clock, log },
      {
        organizationId: record.organizationId,
        sessionId: record.sessionId,
        prompt,
        userId: `slack:${message.teamId}:${message.userId}`,
        origin: { kind: "slack", teamId: thread.teamId, channelId: thread.channelId, threadTs: thread.threadTs, messageTs: message.ts, userId: message.userId },
      },
      {
        onRun: (t) => void this.waiting.set(t.run!.id, t),
        onMessage: (ts) => {
          messages.push(`${thread.channelId}:${ts}`);
          this.turnMessages.set(messages.at(-1)!, thread);
        },
        behindThread: () => siblings.indexOf(turn) > 0,
      },
    );
    siblings.push(turn);
    this.turnMessages.set(messages[0]!, thread);
    const play = turn.play();
    this.track(play);
    try {
      await play;
    } finally {
      if (turn.run) this.waiting.delete(turn.run.id);
      siblings.splice(siblings.indexOf(turn), 1);
      if (siblings.length === 0 && this.byThread.get(key) === siblings) this.byThread.delete(key);
      for (const k of messages) this.turnMessages.delete(k);
    }
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }
}

async function settle(work: Set<Promise<void>>, timeoutMs: number): Promise<void> {
  await Waits.within(Promise.allSettled([...work]), timeoutMs);
}

function keyOf(thread: ThreadKey): string {
  return `${thread.teamId}:${thread.channelId}:${thread.threadTs}`;
}

function threadOf(message: IncomingMessage): ThreadKey {
  return { teamId: message.teamId, channelId: message.channelId, threadTs: message.threadTs ?? message.ts };
}
