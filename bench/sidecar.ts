import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { Webhooks } from "@nubabel/contracts";
import { ModelServer } from "@nubabel/testkit";
import { startSidecar } from "../apps/opencode-sidecar/src/main.js";
import type { Row } from "./stats.js";

/**
 * The sidecar's `/delegate` (signed HTTP, session create, promptAsync, events, final read) beside
 * the same work done with the OpenCode SDK directly on the same engine and the same instant model.
 */
export async function benchSidecar(n: number): Promise<Row[]> {
  const secret = Webhooks.generateSecret();
  const model = await ModelServer.start({ defaultReply: { text: "ok", chunks: 1 } });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-sidecar-"));
  const sidecar = await startSidecar({
    SIDECAR_PORT: "0",
    SIDECAR_SHARED_SECRET: secret,
    SIDECAR_DATA_DIR: dataDir,
    MODEL_BASE_URL: model.url,
    MODEL_NAME: "scripted",
    LOG_LEVEL: "silent",
  });
  try {
    const endpoint = sidecar.engine.endpoint()!;
    const directory = path.join(dataDir, "workspaces", "org_bench");
    mkdirSync(directory, { recursive: true });
    const client = createOpencodeClient({
      baseUrl: endpoint.url,
      headers: { authorization: `Basic ${Buffer.from(`opencode:${endpoint.password}`).toString("base64")}` },
    });
    const { stream } = await client.event.subscribe({ directory });
    const idle = new Map<string, () => void>();
    void (async () => {
      for await (const ev of stream) {
        const e = ev as { type: string; properties: { sessionID?: string } };
        if (e.type === "session.idle" && e.properties.sessionID) idle.get(e.properties.sessionID)?.();
      }
    })().catch(() => undefined);

    const direct = async () => {
      const t0 = performance.now();
      const created = await client.session.create({ directory }, { throwOnError: true });
      const id = created.data.id;
      const done = new Promise<void>((resolve) => idle.set(id, resolve));
      await client.session.promptAsync({ sessionID: id, directory, parts: [{ type: "text", text: "hi" }] }, { throwOnError: true });
      await done;
      await client.session.messages({ sessionID: id, directory, limit: 20 }, { throwOnError: true });
      idle.delete(id);
      return performance.now() - t0;
    };
    const viaSidecar = async (i: number) => {
      const body = JSON.stringify({ prompt: "hi", session_id: `bench_${i}`, organizationId: "org_bench" });
      const t0 = performance.now();
      const res = await fetch(`${sidecar.url}/delegate`, { method: "POST", body, headers: { "content-type": "application/json", ...Webhooks.sign(secret, body) } });
      const json = (await res.json()) as { status: string };
      if (json.status !== "success") throw new Error(`bench delegation failed: ${JSON.stringify(json)}`);
      return performance.now() - t0;
    };

    for (let i = 0; i < 3; i++) {
      await direct();
      await viaSidecar(-i - 1);
    }
    const directSamples: number[] = [];
    const sidecarSamples: number[] = [];
    // Interleaved so drift (caches, GC, disk) hits both paths alike.
    for (let i = 0; i < n; i++) {
      directSamples.push(await direct());
      sidecarSamples.push(await viaSidecar(i));
    }
    return [
      { name: "OpenCode SDK direct (create+promptAsync+idle)", samples: directSamples },
      { name: "sidecar POST /delegate", samples: sidecarSamples, baseline: "OpenCode SDK direct (create+promptAsync+idle)" },
    ];
  } finally {
    await sidecar.close();
    await model.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
