import type { EventEmitter } from "node:events";
import type { EngineState } from "@nubabel/contracts";

/** How to reach a running engine. */
export interface EngineEndpoint {
  url: string;
  /** Basic-auth password (user `opencode`), when the engine has one. */
  password?: string;
}

/**
 * The OpenCode engine as the rest of the sidecar sees it: up or down, and where. Emits `up`
 * (with the endpoint, after every (re)start) and `down` (with a reason) when it stops answering.
 */
export interface Engine extends EventEmitter {
  readonly state: EngineState;
  readonly version: string;
  readonly restarts: number;
  /** The current endpoint, or undefined while the engine is down. */
  endpoint(): EngineEndpoint | undefined;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export class EngineDownError extends Error {
  override readonly name: string = "EngineDownError";
}

/**
 * A call the engine did not answer within `ENGINE_REQUEST_TIMEOUT_MS`. To its caller the engine is
 * as unavailable as a stopped one (503 `engine_unavailable`), not broken: a 500 would say the
 * sidecar failed.
 */
export class EngineTimeoutError extends EngineDownError {
  override readonly name = "EngineTimeoutError";
}
