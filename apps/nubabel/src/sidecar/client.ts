import {
  BrokenCircuitError,
  circuitBreaker,
  CircuitState,
  ConsecutiveBreaker,
  handleWhen,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
} from "cockatiel";
import type { z } from "zod";
import {
  AbortResponse,
  describeIssues,
  DrainState,
  ErrorBody,
  Http,
  PermissionReplyResult,
  RunAccepted,
  RunsQueryAnswer,
  SidecarHealth,
  SidecarRun,
  Text,
  Webhooks,
  type DelegateRequest,
  type PermissionReply,
  type PromptRequest,
} from "@nubabel/contracts";
import { Tracing } from "@nubabel/telemetry";
import type { Logger } from "../log/logger.js";
import { MISCONFIGURED, SidecarProtocolError, SidecarRejected, SidecarUnavailable } from "./errors.js";

export interface SidecarClientOptions {
  secret: string;
  timeoutMs: number;
  healthTimeoutMs: number;
  breakerThreshold: number;
  breakerResetMs: number;
}

/** Sidecar answers that mean "wait a moment" (its engine restarting, or it draining), not "broken". */
const TRANSIENT = new Set(["engine_unavailable", "draining"]);

/** Connection errors that mean the request never reached the sidecar, so nothing ran there. */
const UNREACHED = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);

/**
 * Speaks to sidecars, each by its base URL (a mapping names the one that owns a session). Every
 * request is signed with Standard Webhooks and bounded by one timeout: nothing waits for a turn
 * (runs are accepted with `Prefer: respond-async` and end by callback). Each sidecar has its own
 * circuit breaker: a dead one costs callers an immediate `SidecarUnavailable`, not a hang.
 */
export class SidecarClient {
  private readonly policies = new Map<string, { policy: IPolicy; breaker: CircuitBreakerPolicy }>();
  private readonly log: Logger;

  constructor(
    private readonly options: SidecarClientOptions,
    logger: Logger,
  ) {
    this.log = logger.child({ module: "sidecar-client" });
  }

  /**
   * Creates the OpenCode session and starts the run; answers as soon as the sidecar accepted it.
   * `logger`, here and below, is the caller's (so lines carry its request id); `message`, passed
   * again on a retry, keeps the delivery's `webhook-id` and moves its timestamp on.
   */
  delegate(sidecarUrl: string, body: DelegateRequest, logger?: Logger, message?: Webhooks.Outgoing): Promise<RunAccepted> {
    return this.call(sidecarUrl, "POST", "/delegate", body, RunAccepted, logger, message);
  }

  /** Starts a follow-up run in an existing OpenCode session; answers once the sidecar accepted it. */
  prompt(sidecarUrl: string, opencodeSessionId: string, body: PromptRequest, logger?: Logger, message?: Webhooks.Outgoing): Promise<RunAccepted> {
    return this.call(sidecarUrl, "POST", `/sessions/${encodeURIComponent(opencodeSessionId)}/prompt`, body, RunAccepted, logger, message);
  }

  /** Drains the sidecar for a deploy (no new runs; running ones finish), or undoes it. */
  drain(sidecarUrl: string, drain: boolean, logger?: Logger): Promise<DrainState> {
    return this.call(sidecarUrl, "POST", "/drain", { drain }, DrainState, logger);
  }

  abort(sidecarUrl: string, opencodeSessionId: string, logger?: Logger): Promise<AbortResponse> {
    return this.call(sidecarUrl, "POST", `/sessions/${encodeURIComponent(opencodeSessionId)}/abort`, {}, AbortResponse, logger);
  }

  /**
   * Gives the engine a person's decision on a tool call of `runId`. `replied: false` when the engine
   * no longer waits on it (the run ended, or the sidecar timed the ask out itself).
   */
  replyPermission(sidecarUrl: string, runId: string, requestId: string, reply: PermissionReply, logger?: Logger): Promise<PermissionReplyResult> {
    const path = `/runs/${encodeURIComponent(runId)}/approvals/${encodeURIComponent(requestId)}`;
    return this.call(sidecarUrl, "POST", path, reply, PermissionReplyResult, logger);
  }

  /** The sidecar's record of a run, or undefined when it does not know it (it restarted without it). */
  async run(sidecarUrl: string, runId: string, logger?: Logger): Promise<SidecarRun | undefined> {
    try {
      return await this.call(sidecarUrl, "GET", `/runs/${encodeURIComponent(runId)}`, undefined, SidecarRun, logger);
    } catch (err) {
      if (err instanceof SidecarRejected && err.data.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * The sidecar's records of those of `runIds` it knows (`POST /runs/query`, at most
   * `MAX_RUNS_QUERY`); undefined from a sidecar older than that route, to be asked run by run.
   */
  async runs(sidecarUrl: string, runIds: string[], logger?: Logger): Promise<SidecarRun[] | undefined> {
    try {
      return (await this.call(sidecarUrl, "POST", "/runs/query", { runIds }, RunsQueryAnswer, logger)).runs;
    } catch (err) {
      if (err instanceof SidecarRejected && err.data.status === 404) return undefined;
      throw err;
    }
  }

  /** Each called sidecar's circuit, for metrics: `closed`, `open` or `half_open`. */
  circuits(): Array<{ url: string; state: "closed" | "open" | "half_open" }> {
    return [...this.policies].map(([url, { breaker }]) => ({ url, state: CIRCUIT[breaker.state] }));
  }

  /** The sidecar's own health, bypassing the breaker so `/health` shows the truth right away. */
  async health(sidecarUrl: string): Promise<SidecarHealth> {
    const answer = await Http.send(new URL("/health", sidecarUrl), { method: "GET", headers: {}, signal: AbortSignal.timeout(this.options.healthTimeoutMs) });
    const parsed = SidecarHealth.safeParse(Text.parseJson(answer.text));
    if (!parsed.success) throw new SidecarProtocolError(sidecarUrl, describeIssues(parsed.error).message);
    return parsed.data;
  }

  private async call<S extends z.ZodType>(
    sidecarUrl: string,
    method: "GET" | "POST",
    path: string,
    payload: unknown,
    schema: S,
    logger?: Logger,
    message = new Webhooks.Outgoing(),
  ): Promise<z.infer<S>> {
    const started = Date.now();
    const log = (logger ?? this.log).child({ module: "sidecar-client", sidecarUrl, path });
    try {
      // A signal of its own per call: cockatiel otherwise hangs every call's timeout on one shared
      // signal, which a burst of calls makes look like a listener leak.
      const attempt = () => this.policy(sidecarUrl).execute(async ({ signal }) => {
        const body = payload === undefined ? "" : JSON.stringify(payload);
        const url = new URL(path, sidecarUrl);
        const route = { direction: "nubabel-to-sidecar", method, path: url.pathname } as const;
        let response: Http.Answer;
        try {
          response = await Http.send(url, {
            method,
            ...(method === "POST" ? { body } : {}),
            headers: {
              ...(method === "POST" ? { "content-type": "application/json", prefer: "respond-async" } : {}),
              ...message.sign(this.options.secret, route, body),
              // The run's trace goes on in the sidecar (outside the signature, which covers the body).
              ...Tracing.headers(),
            },
            signal,
          });
        } catch (err) {
          if (signal.aborted) throw err;
          throw new SidecarUnavailable(sidecarUrl, causeText(err), false, UNREACHED.has(Http.errorCode(err)) ? "unreached" : undefined);
        }
        const text = response.text;
        const code = response.status === 503 ? errorCode(text) : "";
        if (TRANSIENT.has(code)) throw new SidecarUnavailable(sidecarUrl, `HTTP 503: ${text.slice(0, 200)}`, true, code);
        if (MISCONFIGURED.has(code)) throw rejected(response.status, text);
        if (response.status >= 500) throw new SidecarUnavailable(sidecarUrl, `HTTP ${response.status}: ${text.slice(0, 200)}`);
        if (response.status >= 400) throw rejected(response.status, text);
        return text;
      }, new AbortController().signal);
      let json: string;
      try {
        json = await attempt();
      } catch (err) {
        // An open circuit protects callers from a dead sidecar, not from one that is back: when its
        // health answers again, close the circuit now rather than after the reset time.
        if (!(err instanceof BrokenCircuitError) || !(await this.healthy(sidecarUrl))) throw err;
        log.info("sidecar healthy again; closing its circuit");
        this.policies.delete(sidecarUrl);
        json = await attempt();
      }
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

  private healthy(sidecarUrl: string): Promise<boolean> {
    return this.health(sidecarUrl).then(
      (h) => h.status === "healthy",
      () => false,
    );
  }

  private translate(sidecarUrl: string, err: unknown): Error {
    if (err instanceof BrokenCircuitError) return new SidecarUnavailable(sidecarUrl, "circuit open after repeated failures", false, "unreached");
    if (err instanceof TaskCancelledError) return new SidecarUnavailable(sidecarUrl, `no answer within ${this.options.timeoutMs} ms`);
    if (err instanceof SyntaxError) return new SidecarProtocolError(sidecarUrl, "body is not JSON");
    return err instanceof Error ? err : new Error(String(err));
  }

  private policy(sidecarUrl: string): IPolicy {
    let entry = this.policies.get(sidecarUrl);
    if (!entry) {
      // A 4xx is the caller's problem and an engine restart a short wait, not a broken sidecar:
      // neither trips the breaker (which would refuse every organization's runs for a while).
      const breaker = circuitBreaker(
        handleWhen((err) => !(err instanceof SidecarRejected) && !(err instanceof SidecarUnavailable && err.data.transient)),
        { halfOpenAfter: this.options.breakerResetMs, breaker: new ConsecutiveBreaker(this.options.breakerThreshold) },
      );
      entry = { policy: wrap(breaker, timeout(this.options.timeoutMs, TimeoutStrategy.Aggressive)), breaker };
      this.policies.set(sidecarUrl, entry);
    }
    return entry.policy;
  }
}

const CIRCUIT = {
  [CircuitState.Closed]: "closed",
  [CircuitState.Open]: "open",
  [CircuitState.HalfOpen]: "half_open",
  [CircuitState.Isolated]: "open",
} as const;

function rejected(status: number, text: string): SidecarRejected {
  try {
    const body = ErrorBody.parse(JSON.parse(text));
    return new SidecarRejected(status, body.error.code, body.error.message, body.error.details);
  } catch {
    return new SidecarRejected(status, "sidecar_rejected", text.slice(0, 500) || `sidecar answered ${status}`);
  }
}

function errorCode(text: string): string {
  try {
    return ErrorBody.parse(JSON.parse(text)).error.code;
  } catch {
    return "";
  }
}


function causeText(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}
