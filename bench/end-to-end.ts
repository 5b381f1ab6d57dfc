import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { Webhooks } from "@nubabel/contracts";
import { ModelServer } from "@nubabel/testkit";
import { startSidecar } from "../apps/opencode-sidecar/src/main.js";
import { backendEnv } from "../apps/nubabel/test/fixtures/backends.js";
import { startTestNubabel, testSecrets } from "../apps/nubabel/test/fixtures/nubabel.js";
import { createOrganization } from "../apps/nubabel/test/fixtures/organizations.js";
import { freePort } from "../apps/opencode-sidecar/src/engine/free-port.js";
import type { Row } from "./stats.js";

/**
 * A new conversation three ways on the same engine and instant model: the OpenCode SDK directly
 * (the baseline), the sidecar's signed `/delegate`, and Nubabel's `POST /api/delegate` (API key,
 * session + mapping writes, the sidecar, callbacks and progress fan-out).
 */
export async function benchEndToEnd(n: number): Promise<Row[]> {
  const secrets = testSecrets();
  const secret = secrets.SIDECAR_SHARED_SECRET;
  const model = await ModelServer.start({ defaultReply: { text: "ok", chunks: 1 } });
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "bench-sidecar-"));
  const nubabelPort = await freePort();
  const sidecar = await startSidecar({
    SIDECAR_PORT: "0",
    SIDECAR_SHARED_SECRET: secret,
    SIDECAR_DATA_DIR: dataDir,
    NUBABEL_CALLBACK_URL: `http://127.0.0.1:${nubabelPort}`,
    MODEL_BASE_URL: model.url,
    MODEL_NAME: "scripted",
    LOG_LEVEL: "silent",
  });
  const backend = await backendEnv("shared");
  const nubabel = await startTestNubabel({ ...backend.env, ...secrets, NUBABEL_PORT: String(nubabelPort), SIDECAR_URL: sidecar.url });
  try {
    const { apiKey } = await createOrganization(nubabel, "Bench");
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
      { name: `Nubabel POST /api/delegate (${backend.kind})`, samples: nubabelSamples, baseline },
    ];
  } finally {
    await nubabel.close();
    await backend.cleanup();
    await sidecar.close();
    await model.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
