import {
  BrokenCircuitError,
  circuitBreaker,
  ConsecutiveBreaker,
  handleWhen,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
  type IPolicy,
} from "cockatiel";
import type { z } from "zod";
import {
  AbortResponse,
  DelegateResponse,
  describeIssues,
  ErrorBody,
  SidecarHealth,
  Webhooks,
  type DelegateRequest,
  type PromptRequest,
} from "@nubabel/contracts";
import type { Logger } from "../log/logger.js";
import { SidecarProtocolError, SidecarRejected, SidecarUnavailable } from "./errors.js";

export interface SidecarClientOptions {
  secret: string;
  timeoutMs: number;
  healthTimeoutMs: number;
  breakerThreshold: number;
  breakerResetMs: number;
}

/**
 * Speaks to sidecars, each by its base URL (a mapping names the one that owns a session). Every
 * request is signed with Standard Webhooks. Each sidecar has its own timeout and circuit breaker:
 * a dead one costs callers an immediate `SidecarUnavailable`, not a hang.
 */
export class SidecarClient {
  private readonly policies = new Map<string, IPolicy>();
  private readonly log: Logger;

  constructor(
    private readonly options: SidecarClientOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ module: "sidecar-client" });
  }

  /** `logger`, when given, is the caller's (so lines carry its request id). */
  delegate(sidecarUrl: string, body: DelegateRequest, logger?: Logger): Promise<DelegateResponse> {
    return this.call(sidecarUrl, "/delegate", body, DelegateResponse, logger);
  }

  prompt(sidecarUrl: string, opencodeSessionId: string, body: PromptRequest, logger?: Logger): Promise<DelegateResponse> {
    return this.call(sidecarUrl, `/sessions/${encodeURIComponent(opencodeSessionId)}/prompt`, body, DelegateResponse, logger);
  }

  abort(sidecarUrl: string, opencodeSessionId: string, logger?: Logger): Promise<AbortResponse> {
    return this.call(sidecarUrl, `/sessions/${encodeURIComponent(opencodeSessionId)}/abort`, {}, AbortResponse, logger);
  }

  /** The sidecar's own health, bypassing the breaker so `/health` shows the truth right away. */
  async health(sidecarUrl: string): Promise<SidecarHealth> {
    const response = await fetch(new URL("/health", sidecarUrl), {
      headers: Webhooks.sign(this.options.secret, ""),
      signal: AbortSignal.timeout(this.options.healthTimeoutMs),
    });
    const parsed = SidecarHealth.safeParse(await response.json());
    if (!parsed.success) throw new SidecarProtocolError(sidecarUrl, describeIssues(parsed.error).message);
    return parsed.data;
  }

  private async call<S extends z.ZodType>(
    sidecarUrl: string,
    path: string,
    payload: unknown,
    schema: S,
    logger?: Logger,
  ): Promise<z.infer<S>> {
    const started = Date.now();
    const log = (logger ?? this.log).child({ module: "sidecar-client", sidecarUrl, path });
    try {
      const json = await this.policy(sidecarUrl).execute(async ({ signal }) => {
        const body = JSON.stringify(payload);
        let response: Response;
        try {
          response = await fetch(new URL(path, sidecarUrl), {
            method: "POST",
            body,
            headers: { "content-type": "application/json", ...Webhooks.sign(this.options.secret, body) },
            signal,
          });
        } catch (err) {
          if (signal.aborted) throw err;
          throw new SidecarUnavailable(sidecarUrl, causeText(err));
        }
        const text = await response.text();
        if (response.status >= 500) throw new SidecarUnavailable(sidecarUrl, `HTTP ${response.status}: ${text.slice(0, 200)}`);
        if (response.status >= 400) throw rejected(response.status, text);
        return text;
      });
      const parsed = schema.safeParse(JSON.parse(json));
      if (!parsed.success) throw new SidecarProtocolError(sidecarUrl, describeIssues(parsed.error).message);
      log.debug({ durationMs: Date.now() - started }, "sidecar call done");
      return parsed.data;
    } catch (err) {
      const mapped = this.translate(sidecarUrl, err);
      log.warn({ durationMs: Date.now() - started, err: mapped.message, reason: (mapped as SidecarUnavailable).data?.reason }, "sidecar call failed");
      throw mapped;
    }
  }

  private translate(sidecarUrl: string, err: unknown): Error {
    if (err instanceof BrokenCircuitError) return new SidecarUnavailable(sidecarUrl, "circuit open after repeated failures");
    if (err instanceof TaskCancelledError) return new SidecarUnavailable(sidecarUrl, `no answer within ${this.options.timeoutMs} ms`);
    if (err instanceof SyntaxError) return new SidecarProtocolError(sidecarUrl, "body is not JSON");
    return err instanceof Error ? err : new Error(String(err));
  }

  private policy(sidecarUrl: string): IPolicy {
    let policy = this.policies.get(sidecarUrl);
    if (!policy) {
      // A 4xx is the caller's problem, not the sidecar's health: it does not trip the breaker.
      const breaker = circuitBreaker(
        handleWhen((err) => !(err instanceof SidecarRejected)),
        { halfOpenAfter: this.options.breakerResetMs, breaker: new ConsecutiveBreaker(this.options.breakerThreshold) },
      );
      policy = wrap(breaker, timeout(this.options.timeoutMs, TimeoutStrategy.Aggressive));
      this.policies.set(sidecarUrl, policy);
    }
    return policy;
  }
}

function rejected(status: number, text: string): SidecarRejected {
  try {
    const body = ErrorBody.parse(JSON.parse(text));
    return new SidecarRejected(status, body.error.code, body.error.message, body.error.details);
  } catch {
    return new SidecarRejected(status, "sidecar_rejected", text.slice(0, 500) || `sidecar answered ${status}`);
  }
}

function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
