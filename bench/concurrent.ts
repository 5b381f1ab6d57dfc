import { isTerminal, type ApiRun, type ApiRunAccepted, type DelegateResponse } from "@nubabel/contracts";
import { openSse } from "../apps/nubabel/test/fixtures/sse-client.js";
import { settle, type Stack } from "./stack.js";
import type { Burst, Failure, Turn } from "./stats.js";

/** A turn still unfinished this long after it was sent counts as a timeout. */
const DEADLINE_MS = 60_000;

/** A turn that ended otherwise than answered, and how to count it. */
class TurnError extends Error {
  constructor(
    readonly kind: Failure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * `count` new conversations started at once, three ways on the same engine, one way after the
 * other: the OpenCode SDK directly (the baseline), Nubabel with `Prefer: respond-async` (done when
 * the session's stream carries the run's terminal event, confirmed afterwards by `GET
 * /api/runs/:id`), and Nubabel waiting for the answer.
 */
export async function benchConcurrent(stack: Stack, count: number): Promise<Burst[]> {
  const sdk = sdkTurn(stack);
  const async = asyncTurn(stack);
  const waiting = waitingTurn(stack);
  // Warm every path once (engine instance, JIT, pools), then let the engine's aftermath pass.
  for (const turn of [sdk, async, waiting]) await turn(AbortSignal.timeout(DEADLINE_MS));
  await settle(stack.model);

  const baseline = "OpenCode SDK direct";
  const bursts: Burst[] = [{ name: baseline, ...(await burst(count, sdk)) }];
  await settle(stack.model);
  const accepted = await burst(count, async);
  await confirm(stack, accepted.turns);
  bursts.push({ name: `Nubabel async (202 + SSE), ${stack.storage}`, baseline, ...accepted });
  await settle(stack.model);
  // A circuit the burst opened would fail the next one for a reason that is not its own.
  if (accepted.turns.some((t) => t.failure)) await new Promise((resolve) => setTimeout(resolve, stack.nubabel.env.SIDECAR_BREAKER_RESET_MS));
  bursts.push({ name: `Nubabel waiting (no Prefer), ${stack.storage}`, baseline, ...(await burst(count, waiting)) });
  await settle(stack.model);
  return bursts;
}

/** Starts `count` turns at once; each is timed alone, the batch from the first start to the last end. */
async function burst(count: number, turn: (signal: AbortSignal) => Promise<string | void>): Promise<Pick<Burst, "turns" | "wallMs" | "loopBusy">> {
  const t0 = performance.now();
  const loop = performance.eventLoopUtilization();
  const turns = await Promise.all(
    Array.from({ length: count }, async (): Promise<Turn> => {
      const start = performance.now();
      const signal = AbortSignal.timeout(DEADLINE_MS);
      try {
        const id = await turn(signal);
        return { ms: performance.now() - start, ...(id ? { id } : {}) };
      } catch (err) {
        if (err instanceof TurnError) return { failure: err.kind, message: err.message };
        const message = err instanceof Error ? err.message : JSON.stringify(err);
        return { failure: signal.aborted ? "timeout" : "http", message };
      }
    }),
  );
  return { turns, wallMs: performance.now() - t0, loopBusy: performance.eventLoopUtilization(loop).utilization };
}

function sdkTurn({ engine }: Stack) {
  const { client, directory } = engine;
  return async (signal: AbortSignal) => {
    const created = await client.session.create({ directory }, { throwOnError: true, signal });
    const id = created.data.id;
    const idle = engine.idle(id);
    await client.session.promptAsync({ sessionID: id, directory, parts: [{ type: "text", text: "hi" }] }, { throwOnError: true, signal });
    await within(idle, signal);
    const { data } = await client.session.messages({ sessionID: id, directory, limit: 20 }, { throwOnError: true, signal });
    const error = data.flatMap(({ info }) => (info.role === "assistant" && info.error ? [info.error] : []))[0];
    if (error) throw new TurnError("failed", `${error.name}: ${JSON.stringify(error.data)}`);
  };
}

function asyncTurn({ nubabel, apiKey }: Stack) {
  return async (signal: AbortSignal) => {
    const res = await post(nubabel.url, apiKey, { prompt: "hi" }, { prefer: "respond-async" }, signal);
    if (res.status !== 202) throw new TurnError("http", `POST /api/delegate: ${res.status} ${await res.text()}`);
    const { runId, links } = (await res.json()) as ApiRunAccepted;
    // From the start of what the log retains: the run may have ended before the stream opened.
    const sse = await within(openSse(`${nubabel.url}${links.stream}?lastEventId=0`, { authorization: `Bearer ${apiKey}` }), signal);
    try {
      if (sse.status !== 200) throw new TurnError("http", `GET ${links.stream}: ${sse.status}`);
      const ended = () => sse.events.find((e) => e.runId === runId && isTerminal(e));
      const seen = sse.until(() => ended() !== undefined, DEADLINE_MS).catch((err: Error) => {
        throw new TurnError("http", `stream of ${runId}: ${err.message}`);
      });
      await within(seen, signal);
      const event = ended()!;
      if (event.type !== "completed" || event.data.status !== "success") throw new TurnError("failed", `${event.type}: ${JSON.stringify(event.data)}`);
    } finally {
      sse.close();
    }
    return runId;
  };
}

function waitingTurn({ nubabel, apiKey }: Stack) {
  return async (signal: AbortSignal) => {
    const res = await post(nubabel.url, apiKey, { prompt: "hi" }, {}, signal);
    if (!res.ok) throw new TurnError("http", `POST /api/delegate: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as DelegateResponse;
    if (body.status !== "success") throw new TurnError("failed", `${body.status}: ${JSON.stringify(body.error)}`);
  };
}

/** A run the stream reported completed counts only if `GET /api/runs/:id` says so too. */
async function confirm({ nubabel, apiKey }: Stack, turns: Turn[]): Promise<void> {
  await Promise.all(
    turns.map(async (turn) => {
      if (!turn.id) return;
      const res = await nubabel.api(`/api/runs/${turn.id}`, { apiKey });
      const run = res.ok ? ((await res.json()) as ApiRun) : undefined;
      if (run?.status === "completed") return;
      Object.assign(turn, { ms: undefined, failure: "failed", message: `stream said completed, GET /api/runs/${turn.id}: ${res.status} ${run?.status ?? ""}` });
    }),
  );
}

function post(base: string, apiKey: string, body: unknown, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  return fetch(`${base}/api/delegate`, {
    method: "POST",
    body: JSON.stringify(body),
    headers: { "content-type": "application/json", authorization: `Bearer ${apiKey}`, ...headers },
    signal,
  });
}

function within<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new TurnError("timeout", `no answer within ${DEADLINE_MS} ms`));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}
