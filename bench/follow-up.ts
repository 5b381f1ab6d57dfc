import { Http, Webhooks, type DelegateRequest, type DelegateResponse } from "@nubabel/contracts";
import { startCallbackSink, startFakeSidecar } from "../apps/nubabel/test/fixtures/fake-sidecar.js";
import { time } from "../apps/nubabel/test/bench.js";
import { CLK_TCK, readStat } from "./procfs.js";
import type { Stack } from "./stack.js";
import type { Row } from "./stats.js";

/**
 * Follow-ups before the samples: the first requests of a new process are slower (JIT, pools). Fifty
 * left V8 optimising the hot path while the CPU was read: Nubabel's CPU per follow-up measured
 * 9.6–12.9 ms after 50 and 7.5–8.1 ms after 1,000, as a running service would be.
 */
const WARM_UP = 500;
/**
 * How long the stand-in takes to answer a turn, on both paths alike. No real turn answers in 0 ms
 * (the engine's instant model takes 60 ms and more): an answer that came before Nubabel recorded
 * the hand-over would put that record's write, which a real turn overlaps, into the figure.
 */
export const TURN_MS = 10;

export const DIRECT = "sidecar prompt, called directly (stand-in sidecar)";
export const FOLLOW_UP = "POST /api/delegate follow-up (stand-in sidecar)";

/** Nubabel's own cost per follow-up, as deployed: the latency pairs, and its CPU per follow-up. */
export interface FollowUpCost {
  rows: Row[];
  /** Nubabel's process CPU (utime + stime) per follow-up, in ms, over `n` follow-ups in a row. */
  cpuMs: number;
}

/**
 * Nubabel's own cost per follow-up with Nubabel in its own process, as `npm start` runs it: a
 * stand-in sidecar that answers each turn after `TURN_MS`, served by this process with the client,
 * so neither one's work lands on Nubabel's event loop. `n` pairs, each the stand-in's prompt called
 * directly (as Nubabel calls it, its result callback posted to a sink in this process that only
 * says 200) then a follow-up through Nubabel; the difference of a pair is what Nubabel added. Then
 * `n` follow-ups in a row, over which Nubabel's CPU is read from /proc. Nubabel is put back on the
 * real sidecar afterwards.
 */
export async function benchFollowUp(stack: Stack, n: number): Promise<FollowUpCost> {
  const sidecar = await startFakeSidecar({ secret: stack.secret, turnDelayMs: TURN_MS });
  const sink = await startCallbackSink();
  try {
    const nubabel = await stack.restartNubabel({ SIDECAR_URL: sidecar.url });
    const first = await delegate(nubabel.url, stack.apiKey, {});
    const sessionId = first.metadata.nubabelSessionId!;
    const sent = sidecar.received.find((r) => r.kind === "delegate")!;
    const { callbacks, callbackToken } = sent.body as DelegateRequest;
    const sunk = { ...callbacks, runResult: `${sink.url}/result` };
    const promptPath = `/sessions/${sent.opencodeSessionId}/prompt`;
    const direct = async () => {
      const body = JSON.stringify({ prompt: "direct", callbacks: sunk, callbackToken });
      const headers = { "content-type": "application/json", ...Webhooks.sign(stack.secret, { direction: "nubabel-to-sidecar", method: "POST", path: promptPath }, body) };
      const answer = await Http.send(`${sidecar.url}${promptPath}`, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
      if (answer.status !== 200) throw new Error(`the stand-in answered ${answer.status}: ${answer.text}`);
    };
    const followUp = () => delegate(nubabel.url, stack.apiKey, { sessionId });
    for (let i = 0; i < WARM_UP; i++) {
      await direct();
      await followUp();
    }
    const pairs: Row[] = [
      { name: DIRECT, samples: [] },
      { name: FOLLOW_UP, samples: [], baseline: DIRECT },
    ];
    for (let i = 0; i < n; i++) {
      pairs[0]!.samples.push(await time(direct));
      pairs[1]!.samples.push(await time(followUp));
    }
    const before = ticksOf(nubabel.pid);
    for (let i = 0; i < n; i++) await followUp();
    const cpuMs = ((ticksOf(nubabel.pid) - before) * (1000 / CLK_TCK)) / n;
    const refused = sidecar.callbackStatuses.filter((status) => status !== 200);
    if (refused.length) throw new Error(`result callbacks were refused: ${[...new Set(refused)].join(", ")}`);
    await stack.restartNubabel({});
    return { rows: pairs, cpuMs };
  } finally {
    await sidecar.close();
    await sink.close();
  }
}

async function delegate(base: string, apiKey: string, extra: Record<string, string>): Promise<DelegateResponse> {
  const headers = { "content-type": "application/json", authorization: `Bearer ${apiKey}` };
  const body = JSON.stringify({ prompt: "follow-up", ...extra });
  const answer = await Http.send(`${base}/api/delegate`, { method: "POST", headers, body, signal: AbortSignal.timeout(10_000) });
  const run = answer.status === 200 ? (JSON.parse(answer.text) as DelegateResponse) : undefined;
  if (run?.status !== "success") throw new Error(`POST /api/delegate answered ${answer.status}: ${answer.text}`);
  return run;
}

function ticksOf(pid: number): number {
  const proc = readStat(pid);
  if (!proc) throw new Error(`Nubabel (pid ${pid}) is gone`);
  return proc.own;
}
