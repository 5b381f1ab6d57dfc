import { setTimeout as sleep } from "node:timers/promises";
import { App, type Receiver, webApi as slackWebApi } from "@slack/bolt";
import type { FastifyInstance } from "fastify";
import type { Logger } from "../log/logger.js";
import { registerActions } from "./actions.js";
import { ApprovalPrompts } from "./approval-prompts.js";
import { boltLogger } from "./bolt-logger.js";
import { Conversations } from "./conversations.js";
import { eventsEndpoint, fastifySlackEvents, type Delivery } from "./events-endpoint.js";
import { registerListeners } from "./listeners.js";
import type { SlackObserver } from "./web-api.js";
import type { Clock } from "./live-message.js";
import type { SlackPorts, TurnRun } from "./ports.js";
import { webApi } from "./web-api.js";

export interface SlackBotOptions {
  botToken: string;
  signingSecret: string;
  /** Set → Socket Mode (Slack pushes events over a WebSocket; the HTTP endpoint is not needed). */
  appToken?: string;
  /** Slack's Web API base; tests point it at a local fake. */
  slackApiUrl?: string;
  ports: SlackPorts;
  logger: Logger;
  /** Least time between two updates of one progress message. */
  updateIntervalMs?: number;
  /** How long a handled `event_id` is remembered (Slack retries for about 5 minutes). */
  dedupeTtlSeconds?: number;
  /** How often a queued run's place in line is looked up for its progress message (default 2 s). */
  queuePollMs?: number;
  /** How long a run nobody here waited for is left to a waiting instance before it is handed over (default 2 s). */
  handOverGraceMs?: number;
  clock?: Clock;
  /** Backoff of `startInBackground` between failed attempts: from `initialMs`, doubling up to `maxMs`. */
  startRetry?: { initialMs: number; maxMs: number };
  /** How often unposted approval messages are looked for, and how old they must be (30 s, 20 s). */
  approvalRecovery?: { intervalMs?: number; graceMs?: number };
  /** Told of each Web API call the bot makes and of each rate-limit wait (metrics). */
  observe?: SlackObserver;
}

/** A running Slack bot: the Bolt app, its events endpoint, and its lifecycle. */
export interface SlackBot {
  app: App;
  mode: "http" | "socket";
  /** The Events API handler for `POST /slack/events` as a Fastify plugin (HTTP mode). */
  fastifyPlugin: (app: FastifyInstance) => Promise<void>;
  /** The same handler without a framework: raw body and headers in, status and body out. */
  handle: ReturnType<typeof eventsEndpoint>;
  /** Checks the token (`auth.test`) and, in Socket Mode, connects. Rejects on a bad token or an outage. */
  start(): Promise<void>;
  /**
   * Calls `start()` until it succeeds, waiting between attempts (1 s doubling to 60 s by default),
   * so a Slack outage delays the bot, not the rest of Nubabel. `stop()` ends the attempts.
   */
  startInBackground(): void;
  /** For `/health`: whether `start()` succeeded, and why not when it failed. */
  status(): { mode: "http" | "socket"; ready: boolean; botUserId?: string; error?: string };
  /**
   * Hands a finished run's answer to its Slack thread unless a turn here waits for it (register it
   * with `runs.onFinished`; the reconciler calls it again for answers nobody handed over). Returns
   * at once; exactly one instance writes the answer.
   */
  handOver(run: TurnRun): void;
  /**
   * Refuses new events, disconnects Socket Mode, waits up to `drainMs` for running turns, then lets
   * go of those still running: their runs go on, and their messages say the answer will follow.
   */
  stop(drainMs?: number): Promise<void>;
}

/** Inert receiver for HTTP mode: events arrive through `handle`, not through a server of Bolt's. */
class EndpointReceiver implements Receiver {
  init(): void {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
}

/**
 * Builds the Slack bot over Nubabel's ports. Nothing is called until `start()`: the token check is
 * deferred (Bolt would otherwise fire `auth.test` from its constructor, unawaited).
 */
export function createSlackBot(options: SlackBotOptions): SlackBot {
  const log = options.logger.child({ module: "slack" });
  const socket = Boolean(options.appToken);
  const app = new App({
    token: options.botToken,
    signingSecret: options.signingSecret,
    ...(socket ? { appToken: options.appToken, socketMode: true } : { receiver: new EndpointReceiver() }),
    logger: boltLogger(log.child({ component: "bolt" })),
    deferInitialization: true,
    convoStore: false,
    clientOptions: {
      slackApiUrl: options.slackApiUrl,
      // The WebClient waits out a 429's Retry-After itself, then retries; a short base backoff keeps
      // the retry close to the time Slack named (the default adds one to two seconds on top).
      retryConfig: { retries: 10, factor: 2, minTimeout: 100, maxTimeout: 30_000, randomize: true },
      // Without a timeout a hung connection would hold a progress message (and its answer) forever.
      timeout: 15_000,
    },
  });

  let botUserId: string | undefined;
  const api = webApi(app, options.observe);
  // The WebClient waits out a 429 itself; this is the only place that hears of the wait.
  // Its `url` is the whole request URL: the method is its last segment (`…/api/chat.update`).
  if (options.observe) {
    const observe = options.observe;
    app.client.on(slackWebApi.WebClientEvent.RATE_LIMITED, (retryAfterSeconds: number, { url }: { url: string }) => observe.rateLimited(url.slice(url.lastIndexOf("/") + 1), retryAfterSeconds));
  }
  const conversations = new Conversations({
    ports: options.ports,
    api,
    botUserId: () => botUserId,
    updateIntervalMs: options.updateIntervalMs ?? 1_000,
    queuePollMs: options.queuePollMs,
    handOverGraceMs: options.handOverGraceMs,
    logger: options.logger,
    clock: options.clock,
  });
  registerListeners(app, { conversations, dedupe: options.ports.dedupe, dedupeTtlSeconds: options.dedupeTtlSeconds ?? 3_600, botUserId: () => botUserId, log });
  const decider = options.ports.approvals;
  const approvals = decider
    ? new ApprovalPrompts({ decider, nubabel: options.ports.nubabel, links: options.ports.links, api, ready: () => start(), logger: options.logger, recovery: options.approvalRecovery })
    : undefined;
  approvals?.subscribe();
  registerActions(app, { conversations, approvals, api, log });
  app.error(async (err) => void log.error({ err: err.message, code: err.code }, "Slack listener failed"));

  // The token check without the WebClient's own retries (about 80 s of them): an outage fails one
  // attempt at once and shows in `status()`, and `startInBackground` decides when to try again.
  const probe = new slackWebApi.WebClient(options.botToken, {
    slackApiUrl: options.slackApiUrl,
    logger: boltLogger(log.child({ component: "web-api" })),
    retryConfig: { retries: 0 },
    timeout: 10_000,
  });
  let ready: Promise<void> | undefined;
  let started = false;
  let startError: string | undefined;
  let stopped = false;
  const stopping = new AbortController();
  const start = () =>
    (ready ??= (async () => {
      const auth = await probe.auth.test();
      // Stopped while Slack answered: connecting Socket Mode now would outlive the bot.
      if (stopped) throw new Error("the Slack bot is stopping");
      await app.init();
      botUserId = auth.user_id;
      if (socket) await app.start();
      started = true;
      startError = undefined;
      log.info({ mode: socket ? "socket" : "http", botUserId, team: auth.team_id }, "Slack bot ready");
    })().catch((err: unknown) => {
      // A failed start (Slack unreachable) may be retried by the next call.
      ready = undefined;
      startError = (err as Error).message;
      throw err;
    }));

  let retrying: Promise<void> | undefined;
  const startInBackground = () => {
    const { initialMs, maxMs } = options.startRetry ?? { initialMs: 1_000, maxMs: 60_000 };
    retrying ??= (async () => {
      for (let delay = initialMs; !stopping.signal.aborted; delay = Math.min(delay * 2, maxMs)) {
        try {
          await start();
          return;
        } catch (err) {
          if (stopping.signal.aborted) return;
          log.warn({ err: (err as Error).message, retryInMs: delay }, "Slack bot could not start; retrying");
        }
        await sleep(delay, undefined, { signal: stopping.signal }).catch(() => undefined);
      }
    })();
  };

  const handle = eventsEndpoint({
    signingSecret: options.signingSecret,
    logger: log,
    // Stopping: refuse new events with 503, so Slack redelivers them to an instance that runs.
    accepting: () => !stopped,
    // Acked already; an event that lands before `start()` finished waits for it instead of failing.
    deliver: async (delivery: Delivery) => {
      await start();
      await app.processEvent({ ...delivery, ack: async () => undefined });
    },
  });

  return {
    app,
    mode: socket ? "socket" : "http",
    handle,
    fastifyPlugin: fastifySlackEvents(handle),
    start,
    startInBackground,
    // Once the bot is up (an answer recovered at start waits for Slack); a failed start leaves the
    // answer unclaimed, so reconciliation hands it over later.
    handOver: (run) =>
      void start().then(
        () => conversations.handOver(run),
        (err: Error) => log.warn({ runId: run.id, err: err.message }, "Slack bot not started; the answer is handed over later"),
      ),
    status: () => ({ mode: socket ? "socket" : "http", ready: started, botUserId, error: startError }),
    async stop(drainMs = 5_000) {
      stopped = true;
      stopping.abort();
      if (socket && ready) await app.stop().catch((err: Error) => log.warn({ err: err.message }, "Socket Mode stop failed"));
      await Promise.all([conversations.shutdown(drainMs), approvals?.close(drainMs)]);
    },
  };
}
