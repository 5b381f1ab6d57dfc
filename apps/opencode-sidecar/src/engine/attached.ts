import { EventEmitter } from "node:events";
import type { EngineState } from "@nubabel/contracts";
import type { Logger } from "../logger.js";
import type { Engine, EngineEndpoint } from "./engine.js";

/**
 * An engine someone else runs (`OPENCODE_URL`). The sidecar does not restart it; it only checks
 * that it answers and reports its version.
 */
export class AttachedEngine extends EventEmitter implements Engine {
  state: EngineState = "stopped";
  version = "unknown";
  readonly restarts = 0;

  constructor(private readonly opts: EngineEndpoint & { logger: Logger }) {
    super();
    // Every running turn listens for "down": hundreds at once are expected, not a leak.
    this.setMaxListeners(0);
  }

  endpoint(): EngineEndpoint | undefined {
    if (this.state !== "attached") return undefined;
    return { url: this.opts.url, ...(this.opts.password ? { password: this.opts.password } : {}) };
  }

  async start(): Promise<void> {
    const headers: Record<string, string> = {};
    if (this.opts.password) headers.authorization = `Basic ${Buffer.from(`opencode:${this.opts.password}`).toString("base64")}`;
    const res = await fetch(new URL("/global/health", this.opts.url), { headers, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) throw new Error(`OPENCODE_URL ${this.opts.url} answered ${res.status} to /global/health`);
    const body = (await res.json()) as { version?: string };
    this.version = body.version ?? "unknown";
    this.state = "attached";
    this.opts.logger.info({ url: this.opts.url, version: this.version }, "attached to engine");
    this.emit("up", this.endpoint());
  }

  async stop(): Promise<void> {
    this.state = "stopped";
  }
}
