import { randomBytes } from "node:crypto";
import { isTerminal, Webhooks, type ApiRun, type ApiRunAccepted, type DelegateResponse } from "@nubabel/contracts";
import { openSse } from "../apps/nubabel/test/fixtures/sse-client.js";
import type { Stack } from "./stack.js";
import type { Failure, Turn } from "./stats.js";

/** A turn still unfinished this long after it was sent counts as a timeout. */
export const DEADLINE_MS = 60_000;

/** One way of running a new conversation's turn; resolves when it is answered, with the run's id if any. */
export type TurnFn = (signal: AbortSignal) => Promise<string | void>;

/** A path the bench measures: how to run a turn, and what to check once a row of them is over. */
export interface Path {
  name: string;
  /** Short, for the summary table. */
  label: string;
  turn: TurnFn;
  /** Runs after the row's CPU was read: checks that would otherwise be charged to it. */
  confirm?: (turns: Turn[]) => Promise<void>;
}

/** A turn that ended otherwise than answered, and how to count it. */
export class TurnError extends Error {
  constructor(
    readonly kind: Failure,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The four ways, from the engine alone to the whole of Nubabel: the OpenCode SDK directly (the
 * baseline: session.create, prompt, wait for `session.idle`, read the messages), the sidecar's signed
 * `POST /delegate` waiting for the answer, Nubabel's `POST /api/delegate` waiting, and Nubabel with
 * `Prefer: respond-async` (done when the session's SSE stream carries the run's terminal event,
 * confirmed afterwards by `GET /api/runs/:id`).
 */
export function paths(stack: Stack): Path[] {
  return [
    { name: "engine alone (OpenCode SDK)", label: "engine", turn: engineTurn(stack) },
    { name: "sidecar POST /delegate", label: "sidecar", turn: sidecarTurn(stack) },
    { name: "Nubabel waiting", label: "Nubabel waiting", turn: waitingTurn(stack) },
    { name: "Nubabel async (202 + SSE)", label: "Nubabel async", turn: asyncTurn(stack), confirm: (turns) => confirm(stack, turns) },
  ];
}

export function engineTurn({ engine }: Stack): TurnFn {
  const { client, directory } = engine;
  return async (signal) => {
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

/** Without callbacks: the sidecar answers the request and posts nothing to Nubabel. */
export function sidecarTurn({ sidecar, secret, organizationId }: Stack): TurnFn {
  const tag = randomBytes(4).toString("hex");
  let n = 0;
  return async (signal) => {
    const body = JSON.stringify({ prompt: "hi", session_id: `bench_${tag}_${n++}`, organizationId });
    const headers = { "content-type": "application/json", ...Webhooks.sign(secret, { direction: "nubabel-to-sidecar", method: "POST", path: "/delegate" }, body) };
    const res = await fetch(`${sidecar.url}/delegate`, { method: "POST", body, headers, signal });
    if (!res.ok) throw new TurnError("http", `POST /delegate: ${res.status} ${await res.text()}`);
    const json = (await res.json()) as { status: string; error?: unknown };
    if (json.status !== "success") throw new TurnError("failed", `${json.status}: ${JSON.stringify(json.error)}`);
  };
}

/** Nubabel's `POST /api/delegate`, waiting for the answer; any Nubabel, any organization's key. */
export function waitingTurn({ nubabel, apiKey }: { nubabel: { url: string }; apiKey: string }): TurnFn {
  return async (signal) => {
    const res = await post(nubabel.url, apiKey, {}, signal);
    if (!res.ok) throw new TurnError("http", `POST /api/delegate: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as DelegateResponse;
    if (body.status !== "success") throw new TurnError("failed", `${body.status}: ${JSON.stringify(body.error)}`);
  };
}

export function asyncTurn({ nubabel, apiKey }: Stack): TurnFn {
  return async (signal) => {
    const res = await post(nubabel.url, apiKey, { prefer: "respond-async" }, signal);
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

/** A run the stream reported completed counts only if `GET /api/runs/:id` says so too. */
async function confirm({ nubabel, apiKey }: Stack, turns: Turn[]): Promise<void> {
  await Promise.all(
    turns.map(async (turn) => {
      if (!turn.id) return;
      const res = await fetch(`${nubabel.url}/api/runs/${turn.id}`, { headers: { authorization: `Bearer ${apiKey}` } });
      const run = res.ok ? ((await res.json()) as ApiRun) : undefined;
      if (run?.status === "completed") return;
      Object.assign(turn, { ms: undefined, failure: "failed", message: `stream said completed, GET /api/runs/${turn.id}: ${res.status} ${run?.status ?? ""}` });
    }),
  );
}

function post(base: string, apiKey: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
  return fetch(`${base}/api/delegate`, {
    method: "POST",
    body: JSON.stringify({ prompt: "hi" }),
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
