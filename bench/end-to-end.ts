import { Webhooks } from "@nubabel/contracts";
import type { Stack } from "./stack.js";
import type { Row } from "./stats.js";

/**
 * A new conversation three ways on the same engine and instant model, one at a time: the OpenCode
 * SDK directly (the baseline), the sidecar's signed `/delegate`, and Nubabel's `POST /api/delegate`
 * (API key, session + mapping writes, the sidecar, callbacks and progress fan-out).
 */
export async function benchEndToEnd(stack: Stack, n: number): Promise<Row[]> {
  const { engine, sidecar, nubabel, apiKey, organizationId, secret } = stack;
  const { client, directory } = engine;

  const direct = async () => {
    const t0 = performance.now();
    const created = await client.session.create({ directory }, { throwOnError: true });
    const id = created.data.id;
    const done = engine.idle(id);
    await client.session.promptAsync({ sessionID: id, directory, parts: [{ type: "text", text: "hi" }] }, { throwOnError: true });
    await done;
    await client.session.messages({ sessionID: id, directory, limit: 20 }, { throwOnError: true });
    return performance.now() - t0;
  };
  const viaSidecar = async (i: number) => {
    const body = JSON.stringify({ prompt: "hi", session_id: `bench_${i}`, organizationId });
    const t0 = performance.now();
    const res = await fetch(`${sidecar.url}/delegate`, { method: "POST", body, headers: { "content-type": "application/json", ...Webhooks.sign(secret, { direction: "nubabel-to-sidecar", method: "POST", path: "/delegate" }, body) } });
    const json = (await res.json()) as { status: string };
    if (json.status !== "success") throw new Error(`bench delegation failed: ${JSON.stringify(json)}`);
    return performance.now() - t0;
  };
  const viaNubabel = async () => {
    const t0 = performance.now();
    const res = await nubabel.api("/api/delegate", { body: { prompt: "hi" }, apiKey });
    const json = (await res.json()) as { status: string };
    if (json.status !== "success") throw new Error(`bench delegation through Nubabel failed: ${JSON.stringify(json)}`);
    return performance.now() - t0;
  };

  for (let i = 0; i < 3; i++) {
    await direct();
    await viaSidecar(-i - 1);
    await viaNubabel();
  }
  const directSamples: number[] = [];
  const sidecarSamples: number[] = [];
  const nubabelSamples: number[] = [];
  // Interleaved so drift (caches, GC, disk) hits every path alike.
  for (let i = 0; i < n; i++) {
    directSamples.push(await direct());
    sidecarSamples.push(await viaSidecar(i));
    nubabelSamples.push(await viaNubabel());
  }
  const baseline = "OpenCode SDK direct (create+promptAsync+idle)";
  return [
    { name: baseline, samples: directSamples },
    { name: "sidecar POST /delegate", samples: sidecarSamples, baseline },
    { name: `Nubabel POST /api/delegate (${stack.storage})`, samples: nubabelSamples, baseline },
  ];
}
