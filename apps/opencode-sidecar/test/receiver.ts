import http from "node:http";
import type { AddressInfo } from "node:net";
import { type Callbacks, type ProgressEvent, Webhooks } from "@nubabel/contracts";

export interface Received {
  path: string;
  /** The delivery's `webhook-id`. */
  webhookId: string | undefined;
  body: any;
  token: string | undefined;
  /** Why the signature was refused, or undefined when it verified. */
  signatureError: string | undefined;
}

/**
 * A stand-in for Nubabel's callback endpoints: real HTTP, real signature checks, everything
 * recorded. Tests set `mcp` to decide what a tool call answers.
 */
export class CallbackReceiver {
  readonly received: Received[] = [];
  mcp: (body: any) => { status?: number; body: unknown } | Promise<{ status?: number; body: unknown }> = () => ({ body: { result: "ok" } });
  /** How many of the next deliveries answer 503 (to exercise retries). */
  failNext = 0;
  /** How many of the next run results answer 503; `resultStatus` answers every result with that status instead. */
  failResultsNext = 0;
  resultStatus: number | undefined;
  private guard = new Webhooks.MemoryReplayGuard();
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly server: http.Server,
    private readonly secret: string,
  ) {}

  static async start(secret: string): Promise<CallbackReceiver> {
    const holder: { self?: CallbackReceiver } = {};
    const server = http.createServer((req, res) => void holder.self!.handle(req, res));
    const self = (holder.self = new CallbackReceiver(server, secret));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The callbacks of a session; `runResult` adds the terminal-result callback (durable runs). */
  callbacks(sessionId: string, opts: { runResult?: boolean } = {}): Callbacks {
    return {
      sessionUpdate: `${this.url}/api/sidecar/sessions/${sessionId}/update`,
      progress: `${this.url}/api/sidecar/sessions/${sessionId}/progress`,
      mcpInvoke: `${this.url}/api/sidecar/mcp/invoke`,
      mcpList: `${this.url}/api/sidecar/mcp/list`,
      ...(opts.runResult ? { runResult: `${this.url}/api/sidecar/sessions/${sessionId}/result` } : {}),
    };
  }

  /** Every delivery of a run result (retries included), in arrival order. */
  results(runId?: string): Received[] {
    return this.received.filter((r) => r.path.endsWith("/result") && (!runId || r.body?.runId === runId));
  }

  progress(sessionId?: string): ProgressEvent[] {
    return this.received
      .filter((r) => r.path.endsWith("/progress") && (!sessionId || r.path.includes(`/${sessionId}/`)))
      .flatMap((r) => (r.body.events ?? [r.body.progress]) as ProgressEvent[]);
  }

  updates(sessionId?: string): string[] {
    return this.received
      .filter((r) => r.path.endsWith("/update") && (!sessionId || r.path.includes(`/${sessionId}/`)))
      .map((r) => r.body.state.status as string);
  }

  /** Resolves once `predicate` holds (checked on every delivery), or rejects after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error("receiver: condition not met in time");
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  reset(): void {
    this.received.length = 0;
    this.failResultsNext = 0;
    this.resultStatus = undefined;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    let signatureError: string | undefined;
    const isResult = (req.url ?? "").endsWith("/result");
    try {
      // Results are applied once by run id, so a retry with the same webhook-id is welcome (as in Nubabel).
      await Webhooks.verify(this.secret, { direction: "sidecar-to-nubabel", method: req.method ?? "", path: req.url ?? "" }, raw, req.headers as Record<string, string>, isResult ? "idempotent" : this.guard);
    } catch (err) {
      signatureError = (err as Error).message;
    }
    const auth = req.headers.authorization;
    const entry: Received = {
      path: req.url ?? "",
      webhookId: req.headers["webhook-id"] as string | undefined,
      body: raw ? JSON.parse(raw) : undefined,
      token: auth?.startsWith("Bearer ") ? auth.slice(7) : undefined,
      signatureError,
    };
    this.received.push(entry);
    let status = 200;
    let body: unknown = { success: true };
    if (isResult && this.failResultsNext > 0) {
      this.failResultsNext -= 1;
      [status, body] = [503, { error: { code: "unavailable", message: "try again" } }];
    } else if (isResult && this.resultStatus !== undefined) {
      [status, body] = [this.resultStatus, { error: { code: "refused", message: "no such run" } }];
    } else if (this.failNext > 0) {
      this.failNext -= 1;
      [status, body] = [503, { error: { code: "unavailable", message: "try again" } }];
    } else if (signatureError) [status, body] = [401, { error: { code: "invalid_signature", message: signatureError } }];
    else if (entry.path.endsWith("/mcp/invoke")) ({ status = 200, body } = await this.mcp(entry.body));
    else if (entry.path.endsWith("/mcp/list")) body = { providers: [] };
    else if (isResult) body = { success: true, status: entry.body.status };
    res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    for (const wake of this.waiters.splice(0)) wake();
  }
}
