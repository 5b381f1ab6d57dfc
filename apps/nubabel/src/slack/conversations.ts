import { randomBytes } from "node:crypto";
import { Ids } from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import { LiveMessage, systemClock, type Clock } from "./live-message.js";
import type { SlackPorts, ThreadKey, ThreadRecord } from "./ports.js";
import { INITIAL, reduce, render } from "./progress-view.js";
import { answerMessages, failureMessage, Replies } from "./replies.js";
import { isStopCommand, promptFromSlack } from "./text.js";

/** The Slack Web API calls the bot makes, so conversations can be driven without Bolt. */
export interface SlackApi {
  /** Posts in the thread; resolves with the new message's `ts`. */
  post(channelId: string, threadTs: string, text: string): Promise<string>;
  update(channelId: string, ts: string, text: string): Promise<void>;
  /** The thread a message belongs to (its own `ts` for a top-level message), or `undefined`. */
  threadOf(channelId: string, ts: string): Promise<string | undefined>;
}

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
  logger: Logger;
  clock?: Clock;
}

/**
 * Slack threads as Nubabel sessions: a mention starts or resumes the thread's session, a message in a
 * known thread resumes it, `stop` (or an `:x:` reaction) aborts it. Turns of one thread run one after
 * another on this instance, each with its own live progress message.
 */
export class Conversations {
  /** The tail of each thread's turn chain (present while a turn runs or waits). */
  private readonly chains = new Map<string, Promise<void>>();
  /** Message ts → thread, for the messages of running turns (what an `:x:` reaction lands on). */
  private readonly turnMessages = new Map<string, ThreadKey>();
  private readonly inflight = new Set<Promise<void>>();
  /** Bumped by `stop`, per thread: a queued turn that sees a new value was stopped before it started. */
  private readonly stops = new Map<string, number>();
  /** Progress messages of turns still running, so a shutdown can say what happened to them. */
  private readonly live = new Set<LiveMessage>();
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

  /** An `:x:` reaction on the thread's root, the prompt or the progress message stops the turn. */
  async reaction(input: { teamId: string; channelId: string; itemTs: string; reaction: string }): Promise<void> {
    if (input.reaction !== "x") return;
    let thread = this.turnMessages.get(`${input.channelId}:${input.itemTs}`);
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
   * Waits up to `timeoutMs` for running turns, then tells the threads of those still running that
   * their answer will not come from this instance (rather than leaving a progress message spinning).
   */
  async shutdown(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([Promise.allSettled([...this.inflight]), timeout]);
    clearTimeout(timer);
    await Promise.allSettled([...this.live].map((live) => live.finish([Replies.interrupted])));
  }

  private async stop(thread: ThreadKey, record: ThreadRecord | undefined): Promise<void> {
    const { api, ports } = this.options;
    if (!record) {
      await api.post(thread.channelId, thread.threadTs, Replies.nothingToStop);
      return;
    }
    const key = keyOf(thread);
    // Turns queued behind the running one are dropped too: "stop" means stop everything here.
    this.stops.set(key, (this.stops.get(key) ?? 0) + 1);
    const busyHere = this.chains.has(key);
    let reply: string;
    try {
      const aborted = await ports.nubabel.abort({ organizationId: record.organizationId, sessionId: record.sessionId });
      reply = aborted || busyHere ? Replies.stopping : Replies.nothingToStop;
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
    const key = keyOf(thread);
    const previous = this.chains.get(key);
    const generation = this.stops.get(key) ?? 0;
    const stopped = () => (this.stops.get(key) ?? 0) !== generation;
    const run = this.runTurn(thread, record, prompt, message, previous, stopped);
    const tail = run.catch(() => undefined);
    this.chains.set(key, tail);
    this.inflight.add(tail);
    try {
      await run;
    } finally {
      this.inflight.delete(tail);
      if (this.chains.get(key) === tail) this.chains.delete(key);
    }
  }

  private async runTurn(
    thread: ThreadKey,
    record: ThreadRecord,
    prompt: string,
    message: IncomingMessage,
    previous: Promise<void> | undefined,
    stopped: () => boolean,
  ): Promise<void> {
    const { api, ports, updateIntervalMs, clock = systemClock } = this.options;
    const log = this.log.child({ eventId: message.eventId, sessionId: record.sessionId, channelId: thread.channelId, threadTs: thread.threadTs });
    const live = new LiveMessage(
      { post: (text) => api.post(thread.channelId, thread.threadTs, text), update: (ts, text) => api.update(thread.channelId, ts, text) },
      updateIntervalMs,
      log,
      clock,
    );
    this.live.add(live);
    const tracked = [`${thread.channelId}:${message.ts}`];
    for (const k of tracked) this.turnMessages.set(k, thread);
    // Not awaited: a rate-limited post must not hold up the work itself.
    void live.open(previous ? Replies.queued : render(INITIAL)).then(() => {
      if (!live.messageTs) return;
      tracked.push(`${thread.channelId}:${live.messageTs}`);
      this.turnMessages.set(tracked[1]!, thread);
    });
    try {
      if (previous) {
        await previous;
        if (stopped()) return await live.finish([Replies.cancelledQueued]);
        live.show(render(INITIAL));
      }
      let state = INITIAL;
      let unsubscribe: (() => Promise<void>) | undefined;
      try {
        unsubscribe = await ports.nubabel.watchProgress(record.sessionId, (event) => {
          const next = reduce(state, event);
          if (next !== state) live.show(render((state = next)));
        });
      } catch (err) {
        // Progress is a courtesy: the turn still runs and answers without it.
        log.warn({ err: (err as Error).message }, "could not watch progress");
      }
      const started = clock.now();
      let chunks: string[];
      try {
        const response = await ports.nubabel.delegate({
          organizationId: record.organizationId,
          sessionId: record.sessionId,
          prompt,
          userId: `slack:${message.teamId}:${message.userId}`,
        });
        log.info({ status: response.status, durationMs: clock.now() - started }, "turn finished");
        chunks = answerMessages(response);
      } catch (err) {
        const ref = `slk_${randomBytes(4).toString("hex")}`;
        const { name, message: text, data } = err as Error & { data?: unknown };
        log.error({ ref, err: { name, message: text, data } }, "delegation failed");
        chunks = [failureMessage(err, ref)];
      } finally {
        await unsubscribe?.().catch((err: Error) => log.warn({ err: err.message }, "unsubscribe failed"));
      }
      await live.finish(chunks);
    } finally {
      this.live.delete(live);
      for (const k of tracked) this.turnMessages.delete(k);
    }
  }
}

function keyOf(thread: ThreadKey): string {
  return `${thread.teamId}:${thread.channelId}:${thread.threadTs}`;
}

function threadOf(message: IncomingMessage): ThreadKey {
  return { teamId: message.teamId, channelId: message.channelId, threadTs: message.threadTs ?? message.ts };
}
