import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { Webhooks } from "@nubabel/contracts";
import { Metrics, Tracing } from "@nubabel/telemetry";
import { MemoryBindingStore } from "./adapters/memory/binding-store.js";
import { MemoryRunStore } from "./adapters/memory/run-store.js";
import { RedisBindingStore } from "./adapters/redis/binding-store.js";
import { pingRedis } from "./adapters/redis/ping.js";
import { RedisRunStore } from "./adapters/redis/run-store.js";
import { TokenSeal } from "./adapters/redis/sealed-token.js";
import { PermissionGate } from "./approvals/permission-gate.js";
import { Bridge } from "./bridge/bridge.js";
import { CallbackClient } from "./callbacks/client.js";
import { Outbox } from "./callbacks/outbox.js";
import { Catalog } from "./catalog/catalog.js";
import { loadProcessEnv, parseEnv } from "./config/env.js";
import { AttachedEngine } from "./engine/attached.js";
import { EngineDriver } from "./engine/driver.js";
import { EngineInstances } from "./engine/instances.js";
import type { Engine } from "./engine/engine.js";
import { OMO_CATEGORY_AGENT, OMO_ENV, omoCategoryPrompts, omoConfig, omoPackage } from "./engine/omo.js";
import { buildEngineConfig, GATED_PERMISSIONS } from "./engine/opencode-config.js";
import { EngineSupervisor } from "./engine/supervisor.js";
import { buildServer } from "./http/server.js";
import { createLogger } from "./logger.js";
import { sidecarMetrics } from "./metrics/metrics.js";
import { Runner } from "./runs/runner.js";
import { Sandbox } from "./sandbox/sandbox.js";
import { Workspaces } from "./workspaces/workspaces.js";

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const PLUGIN_FILE = path.join(appDir, ".opencode", "plugins", "nubabel-bridge.ts");
export const SHIPPED_SKILLS = path.join(appDir, "skills");

export interface Sidecar {
  url: string;
  /** Where `GET /metrics` is served when `METRICS_PORT` gives it a listener of its own. */
  metricsUrl?: string;
  engine: Engine;
  runner: Runner;
  /** Shutdown: drains runs (see `Runner.close`), then stops listening and stops the engine. */
  close(): Promise<void>;
}

/**
 * The engine reads nothing from a workspace that could run code or loosen its settings: no
 * project config (`opencode.json`, `.opencode/` plugins, tools, agents), and git, which the engine
 * runs in a workspace, ignores hooks and the fsmonitor command a `.git/config` there could name.
 */
const ENGINE_HARDENING: Record<string, string> = {
  OPENCODE_DISABLE_PROJECT_CONFIG: "1",
  GIT_CONFIG_COUNT: "2",
  GIT_CONFIG_KEY_0: "core.hooksPath",
  GIT_CONFIG_VALUE_0: "/dev/null",
  GIT_CONFIG_KEY_1: "core.fsmonitor",
  GIT_CONFIG_VALUE_1: "false",
};

/** How long results of finished runs may take to be acknowledged at shutdown. */
const SHUTDOWN_DELIVERY_MS = 5_000;
const REDIS_PING_TIMEOUT_MS = 1_000;

/**
 * Wires the sidecar from an environment (the real one, or a test's) and starts listening.
 * `signal` stops a start in progress (SIGTERM before it was ready): the engine is stopped and the
 * promise rejects.
 */
export async function startSidecar(
  source: Record<string, string | undefined>,
  opts: { signal?: AbortSignal; logDestination?: { write(line: string): void } } = {},
): Promise<Sidecar> {
  const env = parseEnv(source);
  const logger = createLogger(env.LOG_LEVEL, opts.logDestination);
  const stopTracing = Tracing.start({ endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: env.OTEL_SERVICE_NAME });
  if (env.SIDECAR_OMO === "on" && env.OPENCODE_URL) throw new Error("SIDECAR_OMO=on loads OhMyOpenCode into the engine the sidecar runs; an attached engine (OPENCODE_URL) loads its own plugins");
  const omo = env.SIDECAR_OMO === "on" ? omoPackage() : undefined;
  const catalog = Catalog.load({
    ...(env.SIDECAR_CONFIG ? { file: env.SIDECAR_CONFIG } : {}),
    shippedSkillsDir: SHIPPED_SKILLS,
    ...(omo ? { defaultAgent: OMO_CATEGORY_AGENT, agentPrompts: omoCategoryPrompts(omo.pluginFile) } : {}),
  });
  // An attached engine is configured by whoever runs it: the sidecar sandboxes only its own.
  const sandbox = env.OPENCODE_URL
    ? undefined
    : await Sandbox.prepare({
        mode: env.SANDBOX,
        bwrap: env.SANDBOX_BWRAP,
        hide: [env.SIDECAR_DATA_DIR, path.resolve(appDir, "..", "..")],
        network: env.SANDBOX_NETWORK,
        timeoutMs: env.SANDBOX_TIMEOUT_MS,
        memoryMb: env.SANDBOX_MEMORY_MB,
        outputBytes: env.SANDBOX_OUTPUT_BYTES,
      });
  if (sandbox?.shell === "refused") logger.error({ reason: sandbox.reason }, "the agent's shell commands will be refused");
  if (sandbox?.shell === "unsandboxed") logger.warn({ reason: sandbox.reason }, "the agent's shell commands are not sandboxed");
  const sandboxEngine = sandbox?.engine() ?? { env: {} };
  const engineConfig = buildEngineConfig(env, PLUGIN_FILE, {
    ...(sandboxEngine.shell ? { shell: sandboxEngine.shell } : {}),
    ...(omo ? { plugins: [omo.pluginFile] } : {}),
    categoryModels: Object.values(catalog.categoryModels()).flatMap((c) => (c.model ? [c.model] : [])),
  });
  // OhMyOpenCode reads `.omo/omo.jsonc` in the engine's home and in each folder from a workspace
  // up: the engine's home and every workspace get ours, and the agent may not write there.
  const omoFile = omo ? `${JSON.stringify(omoConfig(catalog.categoryModels()), null, 2)}\n` : undefined;
  if (omoFile) {
    const omoDir = path.join(env.SIDECAR_DATA_DIR, "engine", "home", ".omo");
    mkdirSync(omoDir, { recursive: true });
    writeFileSync(path.join(omoDir, "omo.jsonc"), omoFile);
    // Our skills, where its task tool's load_skills finds them: the engine's config folder.
    const skillsDir = path.join(env.SIDECAR_DATA_DIR, "engine", "xdg", "config", "opencode", "skills");
    rmSync(skillsDir, { recursive: true, force: true });
    mkdirSync(skillsDir, { recursive: true });
    for (const skill of catalog.skills.values()) if (skill.dir) symlinkSync(skill.dir, path.join(skillsDir, skill.name), "dir");
  }
  if (!engineConfig.model) logger.warn("no model configured: /health reports it and delegation answers 503");

  const redis = env.REDIS_URL ? new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2, lazyConnect: false, enableAutoPipelining: true }) : undefined;
  let redisError: string | undefined;
  redis?.on("error", (err: Error) => {
    // ioredis reconnects by itself; say so once per distinct failure, not on every attempt.
    if (err.message !== redisError) logger.warn({ err: err.message }, "Redis unreachable; retrying");
    redisError = err.message;
  });
  redis?.on("ready", () => (redisError = undefined));
  const bindings = redis ? new RedisBindingStore(redis, env.REDIS_PREFIX, new TokenSeal(env.SIDECAR_SHARED_SECRET)) : new MemoryBindingStore();
  const runs = redis ? new RedisRunStore(redis, env.REDIS_PREFIX) : new MemoryRunStore();
  const replayGuard = redis ? new Webhooks.RedisReplayGuard(redis, env.REDIS_PREFIX) : new Webhooks.MemoryReplayGuard();
  // Best effort: with Redis down now, the first claim records the epoch instead.
  if (replayGuard instanceof Webhooks.RedisReplayGuard) await replayGuard.start().catch(() => undefined);

  const bridgeSecret = randomBytes(32).toString("base64url");
  const registry = Metrics.createRegistry();
  // The engine and its instances are made below; the gauges read them only at scrape time.
  const metrics = sidecarMetrics(registry, {
    state: () => engine.state,
    crashes: () => (engine instanceof EngineSupervisor ? engine.crashes : engine.restarts),
    recycles: () => (engine instanceof EngineSupervisor ? engine.recycles : 0),
    unresponsive: () => (engine instanceof EngineSupervisor ? engine.unresponsive : 0),
    rssBytes: () => (engine instanceof EngineSupervisor ? engine.rssBytes() : undefined),
    instances: () => instances.count,
  });
  const callbacks = new CallbackClient({
    secret: env.SIDECAR_SHARED_SECRET,
    timeoutMs: env.CALLBACK_TIMEOUT_MS,
    retries: env.CALLBACK_RETRIES,
    observe: (attempt) => metrics.callbackAttempt(attempt),
  });
  const outbox = new Outbox(callbacks, logger.child({ module: "outbox" }));
  const workspaces = new Workspaces(path.join(env.SIDECAR_DATA_DIR, "workspaces"), omoFile ? { "omo.jsonc": omoFile } : {});

  // The bridge address is only known once we listen, and the engine needs it at spawn: listen first.
  const engineEnv: Record<string, string> = {
    ...engineConfig.providerEnv,
    ...sandboxEngine.env,
    ...ENGINE_HARDENING,
    ...(omo ? OMO_ENV : {}),
    ...(env.AGENT_ALLOW_URLS ? { NUBABEL_AGENT_ALLOW_URLS: env.AGENT_ALLOW_URLS } : {}),
    ...proxyEnv(env),
    NUBABEL_BRIDGE_SECRET: bridgeSecret,
    NUBABEL_BRIDGE_TIMEOUT_MS: String(env.MCP_TIMEOUT_MS + 5_000),
  };
  const engine: Engine = env.OPENCODE_URL
    ? new AttachedEngine({ url: env.OPENCODE_URL, ...(env.OPENCODE_SERVER_PASSWORD ? { password: env.OPENCODE_SERVER_PASSWORD } : {}), logger })
    : new EngineSupervisor({
        dataDir: env.SIDECAR_DATA_DIR,
        config: engineConfig.content,
        env: engineEnv,
        startTimeoutMs: env.ENGINE_START_TIMEOUT_MS,
        logger: logger.child({ module: "engine" }),
        // The driver is made below; the watchdog first probes once the engine is up.
        ...(env.ENGINE_UNRESPONSIVE_MS ? { watchdog: { unresponsiveMs: env.ENGINE_UNRESPONSIVE_MS, probe: (signal: AbortSignal) => driver.alive(signal) } } : {}),
      });
  const driver = new EngineDriver(engine, logger.child({ module: "driver" }), env.ENGINE_REQUEST_TIMEOUT_MS);
  // Only the asks a run's approvals cover wait for a person (the gate answers every other); a question never does.
  const permissions = new PermissionGate({
    engine: driver,
    runOf: (sessionId) => runner.runFor(sessionId),
    directories: () => runner.runningDirectories(),
    gated: GATED_PERMISSIONS,
    observe: (outcome) => metrics.permissionAsk(outcome),
    log: logger.child({ module: "permissions" }),
  });
  driver.onEvent((event) => {
    if (event.type === "permission") void permissions.handle(event);
    else if (event.type === "resync") void permissions.resync();
    else if (event.type === "question") void driver.rejectQuestion(event.requestId, event.directory).catch(() => undefined);
  });
  const instances = new EngineInstances({
    max: env.ENGINE_MAX_INSTANCES,
    idleMs: env.ENGINE_INSTANCE_IDLE_MS,
    dispose: (directory) => driver.disposeInstance(directory),
    onDispose: (directory) => runner.instanceUnloaded(directory),
    ...(engine instanceof EngineSupervisor
      ? { process: { maxRssBytes: env.ENGINE_MAX_RSS_MB * 1048576, rssBytes: () => engine.rssBytes(), recycle: () => engine.recycle() } }
      : {}),
    log: logger.child({ module: "instances" }),
  });
  // A restarted engine starts with no instance loaded.
  engine.on("up", () => instances.reset());
  const runner = new Runner({
    instances,
    driver,
    engine,
    bindings,
    runs,
    catalog,
    callbacks,
    outbox,
    workspaces,
    model: engineConfig.model,
    runTimeoutMs: env.RUN_TIMEOUT_MS,
    queueLimit: env.SESSION_QUEUE_LIMIT,
    textIntervalMs: env.PROGRESS_TEXT_INTERVAL_MS,
    progressBatchMs: env.PROGRESS_BATCH_MS,
    engineWaitMs: env.ENGINE_WAIT_MS,
    // An engine someone else runs (OPENCODE_URL) may not carry our plugin: its operator's choice.
    requirePlugin: !env.OPENCODE_URL,
    log: logger.child({ module: "runner" }),
    onFinished: (run) => {
      metrics.turnEnded(run);
      permissions.forgetRun(run.runId);
    },
  });
  const bridge = new Bridge(bindings, driver, callbacks, env.MCP_TIMEOUT_MS, (id) => runner.traceOf(id));
  const app = buildServer({
    logger,
    secret: env.SIDECAR_SHARED_SECRET,
    replayGuard,
    bodyLimit: env.BODY_LIMIT_BYTES,
    requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
    instrument: (app) => metrics.instrument(app),
    runner,
    permissions,
    callbackOrigin: env.NUBABEL_CALLBACK_URL,
    engine,
    model: engineConfig.model,
    bridge,
    bridgeSecret,
    draining: () => runner.draining,
    load: () => ({ runs: runner.load, capacity: env.SIDECAR_CAPACITY }),
    ...(sandbox ? { sandbox: sandbox.health() } : {}),
    instances: () => instances.count,
    ...(engine instanceof EngineSupervisor ? { memory: () => ({ rssBytes: engine.rssBytes(), recycles: engine.recycles }) } : {}),
    omo: omo ? { enabled: true, version: omo.version } : { enabled: false },
    ...(redis ? { pingRedis: () => pingRedis(redis, REDIS_PING_TIMEOUT_MS) } : {}),
  });
  const metricsServer = await Metrics.serveMetrics(app, { registry, token: env.METRICS_TOKEN, host: env.METRICS_HOST, port: env.METRICS_PORT }, logger);
  await app.listen({ host: env.SIDECAR_HOST, port: env.SIDECAR_PORT }).catch(async (err: Error) => {
    await metricsServer.close();
    throw err;
  });
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : env.SIDECAR_PORT;
  engineEnv.NUBABEL_BRIDGE_URL = `http://127.0.0.1:${port}`;
  driver.init();
  const stopStarting = () => void engine.stop();
  opts.signal?.addEventListener("abort", stopStarting, { once: true });
  try {
    if (opts.signal?.aborted) throw new Error("the sidecar was stopped while starting");
    await engine.start();
    if (opts.signal?.aborted) throw new Error("the sidecar was stopped while starting");
    if (omo) await requireOmo(driver);
    instances.start();
  } catch (err) {
    // A sidecar that cannot reach its engine at start fails whole, leaving nothing listening.
    await app.close();
    await metricsServer.close();
    driver.close();
    await engine.stop();
    redis?.disconnect();
    await stopTracing();
    throw err;
  } finally {
    opts.signal?.removeEventListener("abort", stopStarting);
  }

  const url = `http://${env.SIDECAR_HOST}:${port}`;
  logger.info({ url, model: engineConfig.model }, "sidecar listening");
  let closing: Promise<void> | undefined;
  const shutdown = async () => {
    logger.info({ graceMs: env.SHUTDOWN_GRACE_MS }, "shutting down");
    await runner.close({ graceMs: env.SHUTDOWN_GRACE_MS, deliveryWaitMs: SHUTDOWN_DELIVERY_MS });
    instances.stop();
    await app.close();
    await metricsServer.close();
    driver.close();
    await engine.stop();
    redis?.disconnect();
    // Last, so the spans of the shutdown's own callbacks are exported too.
    await stopTracing();
    logger.info("stopped");
  };
  return {
    url,
    metricsUrl: metricsServer.url,
    engine,
    runner,
    close: () => (closing ??= shutdown()),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  // Signals are handled from the first moment: one during the start must stop the engine too.
  const starting = new AbortController();
  let sidecar: Sidecar | undefined;
  const stop = () => {
    if (sidecar) void sidecar.close().finally(() => process.exit(0));
    else starting.abort();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  startSidecar(loadProcessEnv(), { signal: starting.signal })
    .then((started) => {
      sidecar = started;
    })
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(starting.signal.aborted ? 0 : 1);
    });
}

/** Stops a start whose engine did not load OhMyOpenCode, rather than running without it silently. */
async function requireOmo(driver: EngineDriver): Promise<void> {
  const agents = await driver.agentNames();
  if (!agents.includes(OMO_CATEGORY_AGENT)) {
    throw new Error(`SIDECAR_OMO=on but the engine did not load OhMyOpenCode (no ${OMO_CATEGORY_AGENT} agent; its log is in the engine's output above); agents: ${agents.join(", ")}`);
  }
}

/** The operator's proxies, in both spellings programs read (Bun, the engine's runtime, reads either). */
function proxyEnv(env: { HTTPS_PROXY?: string | undefined; HTTP_PROXY?: string | undefined; NO_PROXY?: string | undefined }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ["HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"] as const) {
    const value = env[name];
    if (value) out[name] = out[name.toLowerCase()] = value;
  }
  return out;
}
