import { rmSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Periodic, Webhooks, type ApiRun } from "@nubabel/contracts";
import { Metrics, Tracing } from "@nubabel/telemetry";
import { MemoryMappingCache } from "./adapters/memory/mapping-cache.js";
import { MemoryProgressLog } from "./adapters/memory/progress-log.js";
import { MemoryRateLimiter } from "./adapters/memory/rate-limiter.js";
import { PgApprovalStore } from "./adapters/postgres/approval-store.js";
import { PgAuditLog } from "./adapters/postgres/audit-log.js";
import { PgBudgetStore } from "./adapters/postgres/budget-store.js";
import { PgConnectionStore } from "./adapters/postgres/connection-store.js";
import { PgMappingStore } from "./adapters/postgres/mapping-store.js";
import { PgOrganizationStore } from "./adapters/postgres/organization-store.js";
import { PgRunStore } from "./adapters/postgres/run-store.js";
import { PgSessionStore } from "./adapters/postgres/session-store.js";
import { PgSlackLinks, PgSlackThreads } from "./adapters/postgres/slack.js";
import { PgWebhookStore } from "./adapters/postgres/webhook-store.js";
import { PgUsageStore } from "./adapters/postgres/usage-store.js";
import { connectRedisAdapters } from "./adapters/redis/index.js";
import { Approvals } from "./approvals/index.js";
import { startRetention } from "./audit/index.js";
import { Budgets } from "./budgets/index.js";
import { ConfigError, isEmbedded, loadProcessEnv, parseEnv, retiredVariables, type Env } from "./config/env.js";
import { dataPath, keptSecret, writePrivate } from "./config/files.js";
import { resolveKeyring, Rotation } from "./crypto/index.js";
import { openDatabase } from "./db/open.js";
import type { HttpDeps } from "./http/deps.js";
import { healthCheck } from "./http/routes/health.js";
import { createServer } from "./http/server.js";
import { createLogger, type Logger } from "./log/logger.js";
import { SessionMapping } from "./mapping/session-mapping.js";
import type { McpGateway } from "./mcp-gateway.js";
import { instrumentHttp, nubabelMetrics, observedGateway, observedProgress, runObserver, slackObserver } from "./metrics/index.js";
import { Connections, createMcpModule } from "./mcp/index.js";
import { ensureDevOrganization, type DevOrganization } from "./organizations/dev-organization.js";
import { ApiKeys, withKeyCache } from "./organizations/index.js";
import { streamOf } from "./progress/progress-log.js";
import { Reconciler, Runs, toDelegateResponse, viewRun } from "./runs/index.js";
import { SidecarClient, SidecarPool } from "./sidecar/index.js";
import { createSlackBot, watchProgressLog } from "./slack/index.js";
import { DeliverySender, sealedSecretRows, WebhookEndpoints, WebhookOutbox } from "./webhooks/index.js";

export interface StartOptions {
  /** Runs MCP tools for the agent; defaults to the MCP module over the organizations' connections. */
  mcp?: McpGateway;
  /** Where logs go (tests capture them); stdout by default. */
  logDestination?: { write(line: string): void };
  /** Told of every HTTP route as it is registered (the OpenAPI test lists them). */
  onRoute?: (route: { method: string | string[]; url: string }) => void;
  /** A new embedded database starts from this dump of a migrated one (tests: no `initdb` each). */
  pgliteTemplate?: Blob;
}

/** A running Nubabel. */
export interface RunningNubabel {
  /** The URL it listens on (and builds callbacks from unless `NUBABEL_URL` says otherwise). */
  url: string;
  /** Where `GET /metrics` is served when `METRICS_PORT` gives it a listener of its own. */
  metricsUrl?: string;
  port: number;
  env: Env;
  storage: { database: "postgres" | "pglite"; redis: boolean };
  /** On the embedded default: the development organization and whether this start created it. */
  devOrganization?: DevOrganization & { created: boolean };
  logger: Logger;
  close(): Promise<void>;
}

/**
 * Starts Nubabel from an environment (usually the process environment): parses the configuration, opens and
 * migrates the database, connects Redis (or the in-process equivalents), and listens. The only
 * place where the parts are wired together; tests call it to run several instances.
 */
export async function startNubabel(source: Record<string, string | undefined>, options: StartOptions = {}): Promise<RunningNubabel> {
  const env = parseEnv(source);
  const logger = createLogger(env.LOG_LEVEL, options.logDestination);
  const log = logger.child({ module: "main" });
  for (const warning of retiredVariables(source)) log.warn(warning);
  const cleanups: Array<() => Promise<void> | void> = [];
  const close = async () => {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch (err) {
        log.warn({ err: (err as Error).message }, "error while stopping");
      }
    }
    cleanups.length = 0;
  };

  try {
    // Stopped last (cleanups run in reverse), so the spans of the shutdown itself are flushed.
    cleanups.push(Tracing.start({ endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: env.OTEL_SERVICE_NAME }));
    const embedded = isEmbedded(env);
    if (!embedded && !env.NUBABEL_TOKEN_SECRET) {
      // Shared storage means several instances, or one that restarts: each must check the tokens
      // another minted, so a secret made up per instance would break runs in flight.
      throw new ConfigError(
        ["NUBABEL_TOKEN_SECRET"],
        "NUBABEL_TOKEN_SECRET: is required when DATABASE_URL is set; generate one with `openssl rand -base64 32` and give every instance the same value",
      );
    }
    const tokenSecret = env.NUBABEL_TOKEN_SECRET ?? keptSecret(dataPath(env.NUBABEL_DATA_DIR, "token.secret"));
    if (!env.NUBABEL_TOKEN_SECRET && env.REDIS_URL) {
      log.warn("NUBABEL_TOKEN_SECRET is unset: tokens are signed with this instance's own secret; set one shared secret for several instances");
    }

    // Before the database: a missing or malformed key should stop the start at once, naming the variable.
    const { keyring, warning: keyWarning } = await resolveKeyring({ value: env.NUBABEL_ENCRYPTION_KEY, embedded, dataDir: env.NUBABEL_DATA_DIR });
    if (keyWarning) log.warn(keyWarning);

    // A CLI run may hold the embedded database for a moment; a second server holds it for good.
    const database = await openDatabase(env, 5_000, options.pgliteTemplate);
    cleanups.push(() => database.close());
    log.info({ database: database.kind }, "database ready");

    const redisParts = env.REDIS_URL ? await connectRedisAdapters(env.REDIS_URL, { prefix: env.REDIS_KEY_PREFIX, progressMaxLen: env.PROGRESS_MAXLEN }, logger, cleanups) : undefined;
    if (!redisParts) log.info("REDIS_URL unset: in-process cache, locks and progress (single instance only)");
    const memoryCache = new MemoryMappingCache();
    const parts = redisParts ?? {
      cache: memoryCache,
      progress: new MemoryProgressLog(env.PROGRESS_MAXLEN),
      replayGuard: new Webhooks.MemoryReplayGuard(),
      rateLimiter: new MemoryRateLimiter(),
      // One instance: its own changes forget locally; there is nobody else to tell.
      changes: undefined,
      ping: async () => undefined,
    };

    const organizations = new PgOrganizationStore(database.db);
    const sessions = new PgSessionStore(database.db);
    const mapping = new SessionMapping(new PgMappingStore(database.db), parts.cache, logger, env.MAPPING_CACHE_TTL_SECONDS);
    const connectionStore = new PgConnectionStore(database.db);
    const audit = new PgAuditLog(database.db, logger.child({ module: "audit" }));
    const retention = startRetention({ audit, days: env.AUDIT_RETENTION_DAYS, log: logger.child({ module: "audit" }) });
    cleanups.push(() => retention.stop());
    // Declared below; asked only once tool calls arrive, after the server listens.
    const currentRun = (organizationId: string, sessionId: string) => runs.runningIn(organizationId, sessionId);
    const mcp = await createMcpModule({
      store: connectionStore,
      keyring,
      catalogPath: env.NUBABEL_MCP_CATALOG,
      allowPrivateUrls: env.NUBABEL_MCP_ALLOW_PRIVATE_URLS,
      dataDir: env.NUBABEL_DATA_DIR,
      path: env.PATH,
      callTimeoutMs: env.NUBABEL_MCP_CALL_TIMEOUT_MS,
      connectTimeoutMs: env.NUBABEL_MCP_CONNECT_TIMEOUT_MS,
      idleTimeoutMs: env.NUBABEL_MCP_IDLE_TIMEOUT_MS,
      toolsTtlMs: env.NUBABEL_MCP_TOOLS_TTL_MS,
      maxStdioServers: env.NUBABEL_MCP_MAX_STDIO_SERVERS,
      audit,
      currentRun,
      log: logger,
    });
    cleanups.push(() => mcp.close());
    const connectionsDeps = {
      repository: connectionStore,
      keyring,
      catalog: mcp.catalog,
      allowPrivateUrls: env.NUBABEL_MCP_ALLOW_PRIVATE_URLS,
      drop: (id: string) => mcp.pool.drop(id),
      tools: (organizationId: string, id: string) => mcp.gateway.tools({ organizationId }, id),
      audit,
      log: logger.child({ module: "connections" }),
    };
    // One per door, so the audit says who made a change: an API key, or the operator's CLI.
    const connections = new Connections({ ...connectionsDeps, actor: "api" });
    const operatorConnections = new Connections({ ...connectionsDeps, actor: "operator" });
    const sidecar = new SidecarClient(
      {
        secret: env.SIDECAR_SHARED_SECRET,
        timeoutMs: env.SIDECAR_REQUEST_TIMEOUT_MS,
        healthTimeoutMs: env.SIDECAR_HEALTH_TIMEOUT_MS,
        breakerThreshold: env.SIDECAR_BREAKER_THRESHOLD,
        breakerResetMs: env.SIDECAR_BREAKER_RESET_MS,
      },
      logger,
    );
    const pool = new SidecarPool({
      urls: env.SIDECAR_URLS,
      heartbeatMs: env.SIDECAR_HEARTBEAT_MS,
      timeoutMs: env.SIDECAR_HEARTBEAT_TIMEOUT_MS,
      slowTimeoutMs: env.RUN_LOST_AFTER_MS,
      health: (url) => sidecar.health(url),
      logger,
    });
    let publicUrl = env.NUBABEL_URL ?? "";
    const runStore = new PgRunStore(database.db);
    const registry = Metrics.createRegistry();
    const metrics = nubabelMetrics(registry, { unfinished: () => runStore.unfinishedCounts(), circuits: () => sidecar.circuits(), sidecars: () => pool.snapshot() });
    const runWatch = runObserver(metrics);
    const progress = observedProgress(parts.progress, runWatch.progress);
    const slackLinks = new PgSlackLinks(database.db);
    const approvals = new Approvals({
      store: new PgApprovalStore(database.db),
      run: (organizationId, runId) => runStore.get(organizationId, runId),
      connections: (organizationId) => connectionStore.listEnabled(organizationId),
      organizationOfTeam: (teamId) => slackLinks.organizationFor(teamId),
      sidecar,
      progress,
      audit,
      cacheMs: env.SETTINGS_CACHE_MS,
      changes: parts.changes,
      log: logger,
    });
    const webhookStore = new PgWebhookStore(database.db);
    const sender = new DeliverySender({
      store: webhookStore,
      keyring,
      allowPrivateUrls: env.NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS,
      timeoutMs: env.NUBABEL_WEBHOOKS_TIMEOUT_MS,
      retryBaseMs: env.NUBABEL_WEBHOOKS_RETRY_BASE_MS,
      retryForMs: env.NUBABEL_WEBHOOKS_RETRY_FOR_MS,
      pollMs: env.NUBABEL_WEBHOOKS_POLL_MS,
      log: logger,
    });
    const webhooks = new WebhookEndpoints({
      store: webhookStore,
      keyring,
      allowPrivateUrls: env.NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS,
      retryForMs: env.NUBABEL_WEBHOOKS_RETRY_FOR_MS,
      wake: () => sender.wake(),
      changed: (organizationId) => outbox.changed(organizationId),
      audit,
    });
    const outbox: WebhookOutbox = new WebhookOutbox({
      store: webhookStore,
      // `runs` is read when an event comes, by then it exists.
      view: (run): Promise<ApiRun> => viewRun(run, { queuePosition: (r): Promise<number | undefined> => runs.queuePosition(r), approvals }),
      run: (organizationId, runId) => runStore.get(organizationId, runId),
      retryForMs: env.NUBABEL_WEBHOOKS_RETRY_FOR_MS,
      wake: () => sender.wake(),
      cacheMs: env.SETTINGS_CACHE_MS,
      changes: parts.changes,
      log: logger,
    });
    approvals.subscribe((notice) => outbox.approval(notice));
    const usage = new PgUsageStore(database.db);
    const budgets = new Budgets({
      store: new PgBudgetStore(database.db),
      usage,
      defaults: {
        monthlyCost: env.NUBABEL_DEFAULT_MONTHLY_COST,
        monthlyTokens: env.NUBABEL_DEFAULT_MONTHLY_TOKENS,
        warnAtPercent: env.NUBABEL_DEFAULT_BUDGET_WARN_PERCENT,
      },
      cacheMs: env.SETTINGS_CACHE_MS,
      changes: parts.changes,
      audit,
      logger,
    });
    const runs: Runs = new Runs({
      outbox,
      approvals: (organizationId) => approvals.requirements(organizationId),
      store: runStore,
      sessions,
      mapping,
      sidecar,
      progress,
      events: runWatch.events,
      limits: { maxRunning: env.ORG_MAX_RUNNING, maxQueued: env.ORG_MAX_QUEUED },
      spend: budgets,
      logger,
      tokenSecret,
      publicUrl: () => publicUrl,
      pool,
      runTimeoutMs: env.RUN_TIMEOUT_MS,
    });
    const reconciler = new Reconciler({
      runs,
      store: runStore,
      sidecar,
      logger,
      intervalMs: env.RUN_RECONCILE_INTERVAL_MS,
      lostAfterMs: env.RUN_LOST_AFTER_MS,
      // Longer than a hand-over can take (three tries, then asking for the run), so one in flight is never taken for lost.
      dispatchTimeoutMs: env.SIDECAR_REQUEST_TIMEOUT_MS * 6,
      deliveryGraceMs: 5_000,
    });

    const health = healthCheck({
      timeoutMs: env.SIDECAR_HEALTH_TIMEOUT_MS,
      database: { kind: database.kind, ping: () => database.ping() },
      redis: { mode: redisParts ? "redis" : "in-process", ping: () => parts.ping() },
      sidecars: env.SIDECAR_URLS.map((url) => ({ url, health: () => sidecar.health(url) })),
      slack: () => slack?.status(),
    });

    const keys = withKeyCache(organizations, env.SETTINGS_CACHE_MS, parts.changes);
    const deps: HttpDeps = {
      logger,
      organizations: keys,
      apiKeys: new ApiKeys({ store: keys, audit, actor: "api" }),
      sessions,
      mapping,
      runs,
      sidecar,
      progress,
      replayGuard: parts.replayGuard,
      rateLimiter: parts.rateLimiter,
      mcp: observedGateway(options.mcp ?? mcp.gateway, metrics),
      approvals,
      audit,
      usage,
      budgets,
      connections,
      webhooks,
      health,
      instrument: (app) => instrumentHttp(app, registry, metrics),
      admin: embedded
        ? {
            secret: keptSecret(dataPath(env.NUBABEL_DATA_DIR, "admin.secret")),
            connections: operatorConnections,
            slackLinks,
            apiKeys: new ApiKeys({ store: keys, audit, actor: "operator" }),
            rotation: { keyId: keyring.current, rotate: () => Rotation.rotateAll(keyring, [connectionStore, sealedSecretRows(webhookStore)], audit) },
          }
        : undefined,
      config: {
        sidecarSecret: env.SIDECAR_SHARED_SECRET,
        tokenSecret,
        bodyLimit: env.BODY_LIMIT_BYTES,
        requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
        heartbeatMs: env.PROGRESS_HEARTBEAT_MS,
        streamTokenTtlSeconds: env.STREAM_TOKEN_TTL_SECONDS,
        callbackLimitPerOrg: env.CALLBACK_RATE_LIMIT_PER_ORG,
        callbackLimitPerSession: env.CALLBACK_RATE_LIMIT_PER_SESSION,
        apiLimitPerKey: env.API_RATE_LIMIT_PER_KEY,
      },
    };
    const slack = env.SLACK_BOT_TOKEN && env.SLACK_SIGNING_SECRET
      ? createSlackBot({
          botToken: env.SLACK_BOT_TOKEN,
          signingSecret: env.SLACK_SIGNING_SECRET,
          appToken: env.SLACK_APP_TOKEN,
          slackApiUrl: env.SLACK_API_URL,
          updateIntervalMs: env.SLACK_UPDATE_INTERVAL_MS,
          approvalRecovery: { intervalMs: env.SLACK_APPROVAL_RECOVERY_MS, graceMs: env.SLACK_APPROVAL_GRACE_MS },
          logger,
          observe: slackObserver(metrics),
          ports: {
            links: new PgSlackLinks(database.db),
            threads: new PgSlackThreads(database.db),
            dedupe: parts.replayGuard,
            approvals,
            nubabel: {
              submit: (turn) => runs.submit(turn),
              wait: (run, signal) => runs.wait(run, signal),
              run: (organizationId, runId) => runs.get(organizationId, runId),
              state: async (run) => {
                const now = await runs.get(run.organizationId, run.id);
                return { status: now.status, queuePosition: await runs.queuePosition(now) };
              },
              answer: async (run) => toDelegateResponse(await runs.get(run.organizationId, run.id)),
              abort: ({ organizationId, sessionId }) => runs.abortSession(organizationId, sessionId),
              watchProgress: watchProgressLog(parts.progress, streamOf),
              setProgressMessage: (runId, ts) => runStore.updateOrigin(runId, { progressTs: ts }),
              claimDelivery: (runId) => runs.claimDelivery(runId),
            },
          },
        })
      : undefined;
    // Answers nobody here waited for (recovered after a restart, ended elsewhere) reach their thread.
    if (slack) runs.onFinished((run) => slack.handOver(run));
    // A run that ended with a tool call still waiting leaves nothing anyone could decide.
    runs.onFinished((run) => void approvals.closeRun(run).catch((err: Error) => log.warn({ runId: run.id, err: err.message }, "could not close the run's approvals")));
    const app = createServer(deps, { onRoute: options.onRoute });
    if (slack?.mode === "http") void app.register(slack.fastifyPlugin);
    const metricsServer = await Metrics.serveMetrics(app, { registry, token: env.METRICS_TOKEN, host: env.METRICS_HOST, port: env.METRICS_PORT }, log);
    cleanups.push(() => metricsServer.close());
    cleanups.push(async () => {
      const closing = app.close();
      const grace = setTimeout(() => {
        log.warn({ graceMs: env.SHUTDOWN_GRACE_MS }, "requests still running after the grace period; cutting them");
        app.server.closeAllConnections();
      }, env.SHUTDOWN_GRACE_MS);
      try {
        await closing;
      } finally {
        clearTimeout(grace);
      }
    });
    await app.listen({ port: env.NUBABEL_PORT, host: env.NUBABEL_HOST });
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : env.NUBABEL_PORT;
    const url = `http://${env.NUBABEL_HOST.includes(":") ? `[${env.NUBABEL_HOST}]` : env.NUBABEL_HOST}:${port}`;
    publicUrl ||= `http://127.0.0.1:${port}`;
    // Runs this or a crashed instance left running are settled with their sidecars, now and periodically.
    reconciler.start();
    // A sidecar silent past the heartbeat timeout has lost what ran there: those runs fail now.
    pool.onGone((sidecarUrl, reason) => void runs.failOn(sidecarUrl, reason).catch((err: Error) => log.warn({ sidecarUrl, err: err.message }, "could not fail the runs of a gone sidecar")));
    pool.start();
    // Deliveries this or a stopped instance left pending are sent, now and as they come due.
    sender.start();
    cleanups.push(() => sender.stop());
    // Run endings an instance killed at the wrong moment did not record: at start, then now and then.
    const catchingUp = Periodic.every({ everyMs: 5 * 60_000, firstAfterMs: 0 }, () => outbox.catchUp(env.NUBABEL_WEBHOOKS_RETRY_FOR_MS));
    cleanups.push(() => catchingUp.stop(0));
    // Approvals past their time expire, and decisions a sidecar missed are sent again.
    const sweeping = Periodic.every({ everyMs: env.APPROVAL_SWEEP_MS, onError: (err) => log.warn({ err: err.message }, "approval sweep failed") }, () => approvals.sweep());
    cleanups.push(() => runs.drain(5_000), () => reconciler.stop(), () => pool.stop(), () => sweeping.stop(0));
    if (slack) {
      // In the background: a Slack outage delays the bot (its state shows in /health), not the API.
      slack.startInBackground();
      cleanups.push(() => slack.stop());
    }

    let devOrganization: RunningNubabel["devOrganization"];
    if (embedded) {
      const dev = await ensureDevOrganization(organizations, dataPath(env.NUBABEL_DATA_DIR, "dev-organization.json"));
      devOrganization = { ...dev.org, created: dev.created };
      // Lets the CLI find this server (see cli/): only while it runs.
      const serverFile = dataPath(env.NUBABEL_DATA_DIR, "server.json");
      writePrivate(serverFile, JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid }));
      cleanups.push(() => rmSync(serverFile, { force: true }));
    }
    log.info({ url, publicUrl, database: database.kind, redis: Boolean(redisParts), sidecarUrls: env.SIDECAR_URLS }, "nubabel listening");
    return {
      url,
      metricsUrl: metricsServer.url,
      port,
      env,
      storage: { database: database.kind, redis: Boolean(redisParts) },
      devOrganization,
      logger,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

async function runFromCommandLine(): Promise<void> {
  let nubabel: RunningNubabel;
  try {
    nubabel = await startNubabel(loadProcessEnv());
  } catch (err) {
    console.error(`nubabel failed to start: ${(err as Error).message}`);
    process.exit(1);
  }
  if (nubabel.devOrganization) {
    const { organizationId, apiKey, created } = nubabel.devOrganization;
    const file = dataPath(nubabel.env.NUBABEL_DATA_DIR, "dev-organization.json");
    // Printed, not logged: the key is for the person at the terminal, and logs never carry keys.
    process.stderr.write(
      `\nNubabel ${nubabel.url}\n${created ? "Created the" : "The"} development organization ${organizationId}\n` +
        `API key: ${apiKey}\n(kept in ${file})\n\n`,
    );
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    nubabel.logger.info({ signal }, "stopping");
    void nubabel.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void runFromCommandLine();
