import { OtlpReceiver } from "../apps/nubabel/test/fixtures/otlp-receiver.js";
import type { Stack } from "./stack.js";
import { percentile } from "./stats.js";
import { DEADLINE_MS, waitingTurn } from "./turns.js";

/** Turns before each side's samples: a new engine's first sessions are slower. */
const WARM_UP = 3;

/**
 * What tracing costs the delegate path (issue 13): `n` one-at-a-time `POST /api/delegate` (waiting
 * for the answer) with tracing off, then the same after Nubabel restarts with
 * OTEL_EXPORTER_OTLP_ENDPOINT set and on a new sidecar with it set too, both exporting to an OTLP
 * receiver in this process. Prints p50 off, p50 on and their ratio; asserts nothing. Nubabel is
 * put back as it was afterwards, and the traced sidecar stopped.
 */
export async function benchTracing(stack: Stack, n: number): Promise<void> {
  const sink = await OtlpReceiver.start();
  try {
    const off = await delegations(stack, n);
    const traced = await stack.addSidecar("sidecar-traced", { OTEL_EXPORTER_OTLP_ENDPOINT: sink.url });
    await stack.restartNubabel({ SIDECAR_URL: traced.url, OTEL_EXPORTER_OTLP_ENDPOINT: sink.url });
    const on = await delegations(stack, n);
    await stack.restartNubabel({});
    await traced.stop();
    const [p50Off, p50On] = [percentile(off, 50), percentile(on, 50)];
    const traces = new Set(sink.spans.map((s) => s.traceId)).size;
    console.log(`\nTracing, Nubabel POST /api/delegate waiting, one at a time, N=${n} each (off first, then on; ${WARM_UP} warm-up turns each)`);
    console.log(`  p50 off ${p50Off.toFixed(2)} ms, p50 on ${p50On.toFixed(2)} ms, ratio ${(p50On / p50Off).toFixed(2)}x`);
    console.log(`  (the receiver got ${sink.spans.length} spans in ${traces} traces, from ${sink.requests} exports; the traced runs had a new sidecar and engine)`);
  } finally {
    await sink.close();
  }
}

async function delegations(stack: Stack, n: number): Promise<number[]> {
  const turn = waitingTurn(stack);
  const samples: number[] = [];
  for (let i = -WARM_UP; i < n; i++) {
    const t0 = performance.now();
    await turn(AbortSignal.timeout(DEADLINE_MS));
    if (i >= 0) samples.push(performance.now() - t0);
  }
  return samples;
}
