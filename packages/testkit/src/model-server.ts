import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { auxiliaryReply, isAuxiliary } from "./auxiliary.js";
import type { Json, RecordedRequest, Reply, Responder } from "./types.js";
import { sendCompletion, sendError, sendStream } from "./wire.js";

/** The model id the server lists on `/v1/models` and that `opencodeProvider` uses by default. */
export const DEFAULT_MODEL_ID = "scripted";

/** Largest request body read (a long conversation with every tool is well under it); then 413. */
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/**
 * A scripted OpenAI-compatible chat-completions server on 127.0.0.1, the only stand-in for the
 * language model in our tests. Main requests are answered by the responder, else the next
 * scripted reply, else the default reply; the engine's auxiliary calls (titles, summaries) get a
 * fixed reply and never consume the queue. Every error reply consumes one slot, so a retried
 * 5xx/429 takes the next one.
 */
export class ModelServer {
  /** Main (agent turn) requests, in arrival order. */
  readonly requests: RecordedRequest[] = [];
  /** Auxiliary requests (title generation, summaries), in arrival order. */
  readonly auxiliaryRequests: RecordedRequest[] = [];
  private queue: Reply[] = [];
  private responder: Responder | undefined;
  private nextId = 1;
  private waiters = new Set<() => void>();
  private hanging = new Set<ServerResponse>();

  private readonly server: Server;
  private readonly defaultReply: Reply;
  private readonly keepRequests: boolean;
  private baseUrl = "";

  private constructor(defaultReply: Reply, keepRequests: boolean) {
    this.defaultReply = defaultReply;
    this.keepRequests = keepRequests;
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendError(res, { status: 500, message: String(err) });
        else res.destroy();
      });
    });
  }

  /**
   * Listens on `port` (default: a free one) and resolves once it accepts connections.
   * `keepRequests: false` records nothing (`requests` stays empty, `waitForRequests` never
   * resolves): for a server left running, whose records would only grow.
   */
  static async start(opts: { port?: number; defaultReply?: Reply; keepRequests?: boolean } = {}): Promise<ModelServer> {
    const self = new ModelServer(opts.defaultReply ?? { text: "ok" }, opts.keepRequests ?? true);
    await new Promise<void>((resolve, reject) => {
      self.server.once("error", reject);
      self.server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
    });
    const { port } = self.server.address() as AddressInfo;
    self.baseUrl = `http://127.0.0.1:${port}/v1`;
    return self;
  }

  /** Base URL for OpenAI clients, e.g. `http://127.0.0.1:PORT/v1`. */
  get url(): string {
    return this.baseUrl;
  }

  /** Appends replies to the FIFO queue consumed by main requests. */
  script(...replies: Reply[]): void {
    this.queue.push(...replies);
  }

  /** Sets (or with `undefined` removes) the responder consulted before the queue. */
  respond(fn: Responder | undefined): void {
    this.responder = fn;
  }

  /** Replies still queued. */
  pending(): number {
    return this.queue.length;
  }

  /** Clears the queue, the responder and both request records. */
  reset(): void {
    this.queue = [];
    this.responder = undefined;
    this.requests.length = 0;
    this.auxiliaryRequests.length = 0;
  }

  /** Resolves with a copy of the main requests once at least `n` were recorded. */
  waitForRequests(n: number, timeoutMs = 10_000): Promise<RecordedRequest[]> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.requests.length < n) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve([...this.requests]);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(
          new Error(
            `ModelServer.waitForRequests: expected ≥${n} main request(s) within ${timeoutMs} ms, ` +
              `got ${this.requests.length} (and ${this.auxiliaryRequests.length} auxiliary)`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Stops listening, cutting open and hanging connections so the engine's retries stop too. */
  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Keep-alive sockets would hold close() open until their idle timeout.
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (req.method === "GET" && path === "/v1/models") {
      const model = { id: DEFAULT_MODEL_ID, object: "model", created: 0, owned_by: "testkit" };
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: [model] }));
      return;
    }
    if (req.method !== "POST" || path !== "/v1/chat/completions") {
      sendError(res, { status: 404, message: `no route ${req.method} ${path}` });
      return;
    }
    const raw = await readBody(req);
    if (raw === undefined) {
      // The rest of the body is never read: the connection cannot serve another request.
      res.once("finish", () => req.destroy());
      sendError(res, { status: 413, message: `body over ${BODY_LIMIT_BYTES} bytes` });
      return;
    }
    let body: Json;
    try {
      body = JSON.parse(raw);
    } catch {
      sendError(res, { status: 400, message: "body is not JSON" });
      return;
    }
    const record = this.record(body);
    const reply = record.auxiliary ? auxiliaryReply : this.pick(record);
    await this.answer(reply, record, raw.length, res);
  }

  private record(body: Json): RecordedRequest {
    const record: RecordedRequest = {
      id: this.nextId++,
      body,
      messages: Array.isArray(body?.messages) ? body.messages : [],
      tools: Array.isArray(body?.tools) ? body.tools : [],
      stream: body?.stream === true,
      model: typeof body?.model === "string" ? body.model : "",
      auxiliary: isAuxiliary(body),
      receivedAt: Date.now(),
    };
    if (!this.keepRequests) return record;
    if (record.auxiliary) this.auxiliaryRequests.push(record);
    else this.requests.push(record);
    for (const waiter of [...this.waiters]) waiter();
    return record;
  }

  private pick(record: RecordedRequest): Reply {
    return this.responder?.(record) ?? this.queue.shift() ?? this.defaultReply;
  }

  private async answer(reply: Reply, record: RecordedRequest, promptChars: number, res: ServerResponse): Promise<void> {
    if ("hang" in reply) {
      this.hanging.add(res);
      res.once("close", () => this.hanging.delete(res));
      return;
    }
    if (reply.delayMs) {
      const aborted = await delay(reply.delayMs, res);
      if (aborted) return;
    }
    if ("error" in reply) return sendError(res, reply.error);
    const usage = record.stream
      ? sendStream(res, reply, record.model, promptChars, record.body?.stream_options?.include_usage === true)
      : sendCompletion(res, reply, record.model, promptChars);
    if (usage) record.usage = usage;
  }
}

/** The body, or undefined past `BODY_LIMIT_BYTES` (the rest is not read). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > BODY_LIMIT_BYTES) {
        req.removeAllListeners("data");
        req.pause();
        resolve(undefined);
        return;
      }
      parts.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

/** Waits `ms`; resolves true early if the client went away meanwhile (nothing left to answer). */
function delay(ms: number, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(true);
    };
    const timer = setTimeout(() => {
      res.off("close", onClose);
      resolve(false);
    }, ms);
    res.once("close", onClose);
  });
}
