import { Agent, request } from "undici";

/**
 * Requests between the services: undici's `request` on one kept-alive pool per process (a
 * fraction of `fetch`'s cost per call, which the hot path pays several times a turn), and every
 * answer read up to a bound.
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
