import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { type EngineState, Processes } from "@nubabel/contracts";
import { systemEnv } from "../config/env.js";
import type { Logger } from "../logger.js";
import type { Engine, EngineEndpoint } from "./engine.js";
import { freePort } from "./free-port.js";
import { ENGINE_VERSION, packageDir } from "./package.js";
import { preparePluginRuntime } from "./plugin-runtime.js";
import { EngineWatchdog } from "./watchdog.js";

export interface SupervisorOptions {
  dataDir: string;
  config: Record<string, unknown>;
  /** Extra variables for the engine (model keys, the bridge's address and secret). */
  env: Record<string, string>;
  startTimeoutMs: number;
  logger: Logger;
  /** Where the engine's port comes from: `freePort` but in tests. */
  pickPort?: () => Promise<number>;
  /** Kill and restart an engine that answers nothing for `unresponsiveMs` (`ENGINE_UNRESPONSIVE_MS`); absent: never. */
  watchdog?: { unresponsiveMs: number; probe: (signal: AbortSignal) => Promise<unknown> };
}

/**
 * Runs `opencode serve` as a child on loopback with a fresh random password, and starts it again
 * when it dies (backing off while it keeps dying). The child gets a minimal environment: nothing
 * of the sidecar's own (its shared secret above all) is inherited.
 */
export class EngineSupervisor extends EventEmitter implements Engine {
  state: EngineState = "stopped";
  restarts = 0;
  readonly version = ENGINE_VERSION;
  private child: ChildProcess | undefined;
  private current: EngineEndpoint | undefined;
  private stopping = false;
  private backoffMs = 500;
  private restartTimer: NodeJS.Timeout | undefined;
  private launching: Promise<void> | undefined;
  /** True while a planned restart (`recycle`) stops the child: its exit is not a crash. */
  private recycling = false;
  /** Planned restarts done (`recycle`), beside `restarts` after crashes. */
  recycles = 0;
  /** Engines that exited by themselves, and engines the watchdog killed for answering nothing (both restarted: `restarts`). */
  crashes = 0;
  unresponsive = 0;
  private readonly watchdog: EngineWatchdog | undefined;
  /** Why the child was killed on purpose, for the `down` it causes. */
  private killReason: string | undefined;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    // Every running turn listens for "down": hundreds at once are expected, not a leak.
    this.setMaxListeners(0);
    this.watchdog = opts.watchdog && new EngineWatchdog({ ...opts.watchdog, kill: (reason) => this.kill(reason), log: opts.logger });
  }

  endpoint(): EngineEndpoint | undefined {
    return this.state === "running" ? this.current : undefined;
  }

  /** The child's pid, for operators and tests. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the engine; rejects if it cannot, or if `stop()` is called before it is up. */
  async start(): Promise<void> {
    this.stopping = false;
    await this.launch();
  }

  /**
   * Stops the engine, also one still starting (its child is killed and `start()` rejects), and
   * resolves once no engine process of this supervisor is left.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.watchdog?.stop();
    clearTimeout(this.restartTimer);
    this.state = "stopped";
    this.current = undefined;
    if (this.child) await terminate(this.child);
    await this.launching?.catch(() => undefined);
    if (this.child) await terminate(this.child);
  }

  /** The child's resident memory in bytes (Linux), or undefined when it cannot be read. */
  rssBytes(): number | undefined {
    const pid = this.child?.pid;
    if (!pid || this.state !== "running") return undefined;
    try {
      const kb = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      return kb ? Number(kb) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * A planned restart, for memory the engine does not give back: the child is stopped and a new
   * one started (sessions live on in its storage). Callers make sure no run is in progress.
   */
  async recycle(): Promise<void> {
    if (this.state !== "running" || !this.child) return;
    this.recycling = true;
    this.watchdog?.stop();
    this.state = "restarting";
    this.current = undefined;
    try {
      await terminate(this.child);
    } finally {
      this.recycling = false;
    }
    this.recycles += 1;
    try {
      await this.launch();
    } catch (err) {
      // As after a crash: keep trying, backing off, rather than stay down.
      if (!this.stopping) this.scheduleRestart();
      throw err;
    }
  }

  private launch(): Promise<void> {
    const launching = this.spawnRetryingPort().finally(() => {
      if (this.launching === launching) this.launching = undefined;
    });
    this.launching = launching;
    return launching;
  }

  /**
   * The port comes from `freePort()`, which must close it before the engine can bind it: another
   * process (tests run side by side) can take it in between, and the engine then exits at once
   * (Bun's `ServeError`). An engine that exits before it listened is started again on a new port,
   * twice at most; one that keeps exiting fails as before.
   */
  private async spawnRetryingPort(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.spawnAndWait();
      } catch (err) {
        if (!(err instanceof EngineExitedDuringStartError) || attempt > 2 || this.stopping) throw err;
        this.opts.logger.warn({ err: err.message, attempt }, "engine exited during start; trying again on another port");
      }
    }
  }

  private async spawnAndWait(): Promise<void> {
    this.state = this.restarts > 0 ? "restarting" : "starting";
    const port = await (this.opts.pickPort ?? freePort)();
    const password = randomBytes(24).toString("base64url");
    const dirs = this.prepareDirs();
    if (this.stopping) throw new EngineStoppedError();
    // Killed with the sidecar, even by `kill -9`: an orphaned engine would hold its memory and port.
    const engine = Processes.tiedToParent(path.join(packageDir, "bin", "opencode.exe"), ["serve", "--hostname=127.0.0.1", `--port=${port}`], "KILL");
    const child = spawn(engine.command, engine.args, {
      cwd: dirs.home,
      env: this.childEnv(password, dirs),
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    track(child);
    const log = this.opts.logger;
    let url: string;
    try {
      url = await this.listening(child);
    } catch (err) {
      if (this.stopping) throw new EngineStoppedError();
      throw err;
    }
    if (this.stopping) {
      await terminate(child);
      throw new EngineStoppedError();
    }
    // Keep reading the pipes: a child whose full pipe is never drained blocks.
    child.stdout?.resume();
    child.stderr?.on("data", (chunk: Buffer) => log.debug({ engine: chunk.toString().trim() }, "engine stderr"));
    child.once("exit", (code, signal) => this.onExit(code, signal));
    this.current = { url, password };
    this.state = "running";
    log.info({ url, pid: child.pid, version: this.version }, "engine running");
    this.watchdog?.start();
    this.emit("up", this.current);
  }

  /** Resolves with the engine's URL once it says it listens; rejects if it exits or takes too long. */
  private listening(child: ChildProcess): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      let output = "";
      const settle = (result: { url: string } | Error) => {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stderr?.off("data", onData);
        child.off("exit", onExit);
        child.off("error", settle);
        if (result instanceof Error) reject(result);
        else resolve(result.url);
      };
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        settle(new Error(`the engine did not start within ${this.opts.startTimeoutMs} ms: ${output.slice(-2000)}`));
      }, this.opts.startTimeoutMs);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = output.match(/opencode server listening on\s+(https?:\/\/\S+)/);
        if (match?.[1]) settle({ url: match[1] });
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        settle(new EngineExitedDuringStartError(`the engine exited during start (code ${code}, signal ${signal}): ${output.slice(-2000)}`));
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", onExit);
      child.once("error", settle);
    });
  }

  /** Ends a running engine that is wedged (the watchdog's call); its exit restarts it like a crash. */
  private kill(reason: string): void {
    if (this.state !== "running" || !this.child) return;
    this.killReason = reason;
    this.child.kill("SIGKILL");
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.current = undefined;
    this.watchdog?.stop();
    const killed = this.killReason;
    this.killReason = undefined;
    if (this.stopping || this.recycling) return;
    if (killed) this.unresponsive += 1;
    else this.crashes += 1;
    this.state = "restarting";
    const reason = killed ?? `the OpenCode engine exited (code ${code}, signal ${signal})`;
    this.opts.logger.error({ code, signal, ...(killed ? { reason: killed } : {}) }, "engine exited; restarting");
    this.emit("down", reason);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
    this.restartTimer = setTimeout(() => {
      this.restarts += 1;
      this.launch()
        .then(() => {
          // A child that stays up for a while earns a quick restart next time.
          setTimeout(() => (this.backoffMs = 500), 30_000).unref();
        })
        .catch((err: Error) => {
          this.opts.logger.error({ err: err.message }, "engine restart failed");
          if (!this.stopping) this.scheduleRestart();
        });
    }, delay);
    this.restartTimer.unref();
  }

  private prepareDirs() {
    const root = path.join(this.opts.dataDir, "engine");
    const dirs = {
      home: path.join(root, "home"),
      data: path.join(root, "xdg", "data"),
      config: path.join(root, "xdg", "config"),
      cache: path.join(root, "xdg", "cache"),
      state: path.join(root, "xdg", "state"),
    };
    for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
    preparePluginRuntime(dirs.config);
    return dirs;
  }

  private childEnv(password: string, dirs: ReturnType<EngineSupervisor["prepareDirs"]>): NodeJS.ProcessEnv {
    return {
      ...systemEnv(),
      HOME: dirs.home,
      XDG_DATA_HOME: dirs.data,
      XDG_CONFIG_HOME: dirs.config,
      XDG_CACHE_HOME: dirs.cache,
      XDG_STATE_HOME: dirs.state,
      OPENCODE_SERVER_PASSWORD: password,
      OPENCODE_CONFIG_CONTENT: JSON.stringify(this.opts.config),
      OPENCODE_CLIENT: "sdk",
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_CLAUDE_CODE: "1",
      // Offline by construction: any package install the engine attempts fails at once, locally.
      BUN_CONFIG_REGISTRY: "http://127.0.0.1:9/",
      NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
      ...this.opts.env,
    };
  }
}


/** `start()` was overtaken by `stop()`. */
export class EngineStoppedError extends Error {
  override readonly name = "EngineStoppedError";
  constructor() {
    super("the engine was stopped while it was starting");
  }
}

/** The engine's process ended before it said it listened (a port taken, a broken install). */
export class EngineExitedDuringStartError extends Error {
  override readonly name = "EngineExitedDuringStartError";
}

/** Ends a child: SIGTERM, SIGKILL after 5 s; resolves once it has exited. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

// Last resort: if the sidecar's process exits without stopping its engines, they go with it.
const children = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  if (children.size === 0) process.once("exit", killAll);
  children.add(child);
  child.once("exit", () => {
    children.delete(child);
    if (children.size === 0) process.off("exit", killAll);
  });
}
function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}
