import { DEADLINE_MS, engineTurn, sidecarTurn, waitingTurn, type TurnFn } from "./turns.js";
import type { Stack } from "./stack.js";
import type { Row } from "./stats.js";

/**
 * A new conversation three ways on the same engine and instant model, one at a time and
 * interleaved, so drift (caches, GC, disk) hits every path alike: the OpenCode SDK directly (the
 * baseline), the sidecar's signed `/delegate`, and Nubabel's `POST /api/delegate` waiting (API key,
 * run, session and mapping writes, the sidecar, callbacks and progress fan-out).
 */
export async function benchEndToEnd(stack: Stack, n: number): Promise<Row[]> {
  const baseline = "engine alone (OpenCode SDK)";
  const paths: Array<{ name: string; turn: TurnFn; samples: number[] }> = [
    { name: baseline, turn: engineTurn(stack), samples: [] },
    { name: "sidecar POST /delegate", turn: sidecarTurn(stack), samples: [] },
    { name: `Nubabel POST /api/delegate (${stack.storage})`, turn: waitingTurn(stack), samples: [] },
  ];
  for (let i = -3; i < n; i++) {
    for (const path of paths) {
      const t0 = performance.now();
      await path.turn(AbortSignal.timeout(DEADLINE_MS));
      // The first three rounds warm up.
      if (i >= 0) path.samples.push(performance.now() - t0);
    }
  }
  return paths.map(({ name, samples }) => ({ name, samples, ...(name === baseline ? {} : { baseline }) }));
}
