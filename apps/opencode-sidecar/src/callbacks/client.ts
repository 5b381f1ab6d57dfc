import { ExponentialBackoff, handleWhen, retry } from "cockatiel";
import { Http, Webhooks } from "@nubabel/contracts";
import { Tracing } from "@nubabel/telemetry";

/** A callback Nubabel answered with an error that retrying will not fix (4xx). */
export class CallbackRejectedError extends Error {
  override readonly name = "CallbackRejectedError";
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`Nubabel refused the callback (${status}): ${describe(body)}`);
  }
}

/** Nubabel could not be reached, or kept failing, within the retries. */
export class CallbackUnavailableError extends Error {
  override readonly name = "CallbackUnavailableError";
}

/** A failure worth another attempt: the network, a timeout, or a 5xx. */
export class CallbackRetryableError extends Error {
  override readonly name = "CallbackRetryableError";
}

function describe(body: unknown): string {
  const msg = (body as { error?: { message?: string } } | undefined)?.error?.message;
  return msg ?? (typeof body === "string" ? body.slice(0, 300) : JSON.stringify(body)?.slice(0, 300) ?? "");
}

export interface AttemptOptions {
  timeoutMs?: number;
  /** The delivery, signed afresh on every attempt under the same `webhook-id`; a new one when absent. */
  message?: Webhooks.Outgoing;
  /** Gives up the attempt (shutdown). */
  signal?: AbortSignal;
}

export interface CallbackClientOptions {
  secret: string;
  timeoutMs: number;
  retries: number;
  /**
   * Told of every attempt (metrics): its URL path, whether it repeats an earlier attempt of the same
   * message, and how it went (`ok`, `rejected`: 4xx, `failed`: network, timeout or 5xx).
   */
  observe?: (attempt: { path: string; retry: boolean; outcome: "ok" | "rejected" | "failed" }) => void;
}

/**
 * Signed POSTs to Nubabel: Standard Webhooks headers plus the delegation's capability token as
 * a Bearer. Network errors and 5xx are retried with backoff; 4xx is final.
 */
export class CallbackClient {
  /** Messages attempted once already: a later attempt with one of them is a retry. */
  private readonly attempted = new WeakSet<Webhooks.Outgoing>();

  constructor(private readonly opts: CallbackClientOptions) {}

  async post(url: string, payload: unknown, token: string | undefined, opts: { timeoutMs?: number; retries?: number } = {}): Promise<unknown> {
    const body = JSON.stringify(payload);
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const policy = retry(handleWhen((e) => e instanceof CallbackRetryableError), {
      maxAttempts: opts.retries ?? this.opts.retries,
      backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2_000 }),
    });
    try {
      const message = new Webhooks.Outgoing();
      return await policy.execute(() => this.once(url, body, token, { timeoutMs, message }));
    } catch (err) {
      if (err instanceof CallbackRetryableError) throw new CallbackUnavailableError(err.message);
      throw err;
    }
  }

  /**
   * One signed POST. A retried delivery passes the same `message` every time. Throws `CallbackRetryableError`
   * for what another attempt may fix, `CallbackRejectedError` for a 4xx.
   */
  async once(url: string, body: string, token: string | undefined, opts: AttemptOptions = {}): Promise<unknown> {
    const observe = this.opts.observe;
    if (!observe) return this.attempt(url, body, token, opts);
    const message = opts.message ?? new Webhooks.Outgoing();
    const retry = this.attempted.has(message);
    this.attempted.add(message);
    const path = new URL(url).pathname;
    try {
      const answer = await this.attempt(url, body, token, { ...opts, message });
      observe({ path, retry, outcome: "ok" });
      return answer;
    } catch (err) {
      observe({ path, retry, outcome: err instanceof CallbackRejectedError ? "rejected" : "failed" });
      throw err;
    }
  }

  private async attempt(url: string, body: string, token: string | undefined, opts: AttemptOptions): Promise<unknown> {
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const timeout = AbortSignal.timeout(timeoutMs);
    const message = opts.message ?? new Webhooks.Outgoing();
    let res: Http.Answer;
    try {
      res = await Http.send(url, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          ...message.sign(this.opts.secret, { direction: "sidecar-to-nubabel", method: "POST", path: new URL(url).pathname }, body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          // The run's trace goes on in Nubabel (outside the signature, which covers the body).
          ...Tracing.headers(),
        },
        signal: opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout,
      });
    } catch (err) {
      const reason = (err as Error).name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : (err as Error).message;
      throw new CallbackRetryableError(`callback to ${new URL(url).pathname} failed: ${reason}`);
    }
    const text = res.text;
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // A non-JSON body is kept as text for the error message.
    }
    if (res.status >= 500) throw new CallbackRetryableError(`callback to ${new URL(url).pathname} answered ${res.status}: ${describe(parsed)}`);
    if (res.status >= 300) throw new CallbackRejectedError(res.status, parsed);
    return parsed;
  }
}
