import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { pipeline, Readable, type Transform } from "node:stream";
import { createBrotliDecompress, createGunzip, createInflate } from "node:zlib";
import { Agent, type Dispatcher, request } from "undici";

/**
 * Requests on undici's `request` (a fraction of `fetch`'s cost per call, which the hot path pays
 * several times a turn): `send` between the services, on one kept-alive pool per process, every
 * answer read up to a bound; `fetchVia` for clients that take a `fetch` (the engine's SDK), on a
 * pool of its own, answers streamed.
 */

/** The longest answer either service reads from the other; anything longer is refused. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

// No cap on connections per origin (as fetch's own pool): a slow tool call must not queue callbacks.
const pool = new Agent({ keepAliveTimeout: 30_000 });

export interface Answer {
  status: number;
  text: string;
}

/** The answer was longer than the caller's bound. */
export class AnswerTooLarge extends Error {
  override readonly name = "AnswerTooLarge";
}

export interface SendOptions {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  /** Aborts the request; its reason is what `send` rejects with. */
  signal: AbortSignal;
  maxBytes?: number;
}

/** One request; rejects on a network failure, an abort (with the signal's reason) or a too-long answer. */
export async function send(url: URL | string, options: SendOptions): Promise<Answer> {
  const maxBytes = options.maxBytes ?? MAX_ANSWER_BYTES;
  const response = await request(url, {
    method: options.method,
    headers: options.headers,
    ...(options.body !== undefined ? { body: options.body } : {}),
    signal: options.signal,
    dispatcher: pool,
  });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.body.destroy();
      throw new AnswerTooLarge(`the answer from ${new URL(url).host} is longer than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return { status: response.statusCode, text: Buffer.concat(chunks).toString("utf8") };
}

/** Statuses whose answers have no body (the Response constructor refuses one). */
const BODILESS = new Set([204, 205, 304]);

const DECODERS: Record<string, () => Transform> = { gzip: createGunzip, "x-gzip": createGunzip, deflate: createInflate, br: createBrotliDecompress };

/**
 * `fetchVia`'s connections. Idle ones are let go after 4 s, as the global fetch does: a server
 * that closes idle connections sooner than this pool keeps them (the engine's gives no hint) would
 * otherwise now and then meet a request on a socket it is closing, and a POST is not retried.
 */
const fetchPool = new Agent({ keepAliveTimeout: 4_000 });

/**
 * A `fetch` for clients that take one (the OpenCode SDK), on undici's `request`: the global
 * fetch costs about twice the CPU a call, several calls a turn. The answer streams (an event
 * stream is one), a gzip, deflate or br one is decompressed (another encoding is refused),
 * redirects are not followed, and the request's signal aborts it; a failure rejects with the
 * network's error, not fetch's `TypeError`.
 */
export async function fetchVia(resource: string | URL | Request, init?: RequestInit): Promise<Response> {
  const input = resource instanceof Request && !init ? resource : new Request(resource, init);
  const body = input.body ? Buffer.from(await input.arrayBuffer()) : undefined;
  const answer = await request(input.url, {
    method: input.method as Dispatcher.HttpMethod,
    headers: Object.fromEntries(input.headers),
    ...(body ? { body } : {}),
    signal: input.signal,
    dispatcher: fetchPool,
  });
  const headers = new Headers();
  for (const [name, value] of Object.entries(answer.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
  }
  const answered = { status: answer.statusCode, statusText: STATUS_CODES[answer.statusCode] ?? "", headers };
  if (BODILESS.has(answer.statusCode) || input.method === "HEAD") {
    answer.body.resume();
    return new Response(null, answered);
  }
  const encoding = headers.get("content-encoding")?.trim().toLowerCase();
  if (!encoding || encoding === "identity") return new Response(Readable.toWeb(answer.body) as ReadableStream<Uint8Array>, answered);
  const decoder = DECODERS[encoding];
  if (!decoder) {
    // Destroying it errors it: the error is expected, not an uncaught one.
    answer.body.once("error", () => undefined).destroy();
    throw new Error(`${new URL(input.url).host} answered in an encoding this client does not decode: ${encoding}`);
  }
  headers.delete("content-encoding");
  headers.delete("content-length");
  // pipeline: an error or a cancel on either side destroys both, so the socket is not held.
  const decoded = decoder();
  pipeline(answer.body, decoded, () => undefined);
  return new Response(Readable.toWeb(decoded) as ReadableStream<Uint8Array>, answered);
}

/**
 * Fastify's options that bound how long a client may take to send its whole request, headers and
 * body (then 408, and the connection closes): one that never finishes (slowloris) cannot hold a
 * connection for ever. Node checks every `connectionsCheckingInterval` (30 s by default): checked
 * twice a bound, a client is cut off at most half a bound late. The answer is not bounded by it.
 * Such refusals, made before any route, carry the services' error body too.
 */
export function requestBounds(requestTimeoutMs: number): {
  requestTimeout: number;
  http: { requestTimeout: number; connectionsCheckingInterval: number };
  clientErrorHandler: (err: Error & { code?: string }, socket: Socket) => void;
} {
  const connectionsCheckingInterval = Math.min(30_000, Math.max(100, Math.round(requestTimeoutMs / 2)));
  return {
    requestTimeout: requestTimeoutMs,
    http: { requestTimeout: requestTimeoutMs, connectionsCheckingInterval },
    clientErrorHandler: (err, socket) => {
      if (err.code === "ECONNRESET" || !socket.writable) {
        socket.destroy();
        return;
      }
      const [status, code, message] =
        err.code === "ERR_HTTP_REQUEST_TIMEOUT"
          ? [408, "request_timeout", `the request did not arrive in full within ${requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)`]
          : err.code === "HPE_HEADER_OVERFLOW"
            ? [431, "headers_too_large", "the request's headers are too large"]
            : [400, "bad_request", "the request is not valid HTTP"];
      const body = JSON.stringify({ error: { code, message } });
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    },
  };
}

/** The system error code of a failed call (`ECONNREFUSED`…), where undici puts it: on the error, or on its cause; "" when none. */
export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  return typeof e?.code === "string" ? e.code : typeof e?.cause?.code === "string" ? e.cause.code : "";
}
