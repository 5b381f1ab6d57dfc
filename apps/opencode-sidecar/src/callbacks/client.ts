import { ExponentialBackoff, handleWhen, retry } from "cockatiel";
import { Webhooks } from "@nubabel/contracts";

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

class Retryable extends Error {}

function describe(body: unknown): string {
  const msg = (body as { error?: { message?: string } } | undefined)?.error?.message;
  return msg ?? (typeof body === "string" ? body.slice(0, 300) : JSON.stringify(body)?.slice(0, 300) ?? "");
}

export interface CallbackClientOptions {
  secret: string;
  timeoutMs: number;
  retries: number;
}

/**
 * Signed POSTs to Nubabel: Standard Webhooks headers plus the delegation's capability token as
 * a Bearer. Network errors and 5xx are retried with backoff; 4xx is final.
 */
export class CallbackClient {
  constructor(private readonly opts: CallbackClientOptions) {}

  async post(url: string, payload: unknown, token: string | undefined, opts: { timeoutMs?: number; retries?: number } = {}): Promise<unknown> {
    const body = JSON.stringify(payload);
    const timeoutMs = opts.timeoutMs ?? this.opts.timeoutMs;
    const policy = retry(handleWhen((e) => e instanceof Retryable), {
      maxAttempts: opts.retries ?? this.opts.retries,
      backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2_000 }),
    });
    try {
      return await policy.execute(() => this.once(url, body, token, timeoutMs));
    } catch (err) {
      if (err instanceof Retryable) throw new CallbackUnavailableError(err.message);
      throw err;
    }
  }

  private async once(url: string, body: string, token: string | undefined, timeoutMs: number): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(url, {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          ...Webhooks.sign(this.opts.secret, body),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      const reason = (err as Error).name === "TimeoutError" ? `timed out after ${timeoutMs} ms` : (err as Error).message;
      throw new Retryable(`callback to ${new URL(url).pathname} failed: ${reason}`);
    }
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // A non-JSON body is kept as text for the error message.
    }
    if (res.status >= 500) throw new Retryable(`callback to ${new URL(url).pathname} answered ${res.status}: ${describe(parsed)}`);
    if (!res.ok) throw new CallbackRejectedError(res.status, parsed);
    return parsed;
  }
}
