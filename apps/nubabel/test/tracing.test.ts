import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DelegateResponse } from "@nubabel/contracts";
import { ModelServer } from "@nubabel/testkit";
import { backendEnv, tempDir } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { OtlpReceiver, type ReceivedSpan } from "./fixtures/otlp-receiver.js";
import { freePort, startService, waitHealthy, type ServiceProcess } from "./fixtures/processes.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";
import { RecordingProxy } from "./mcp/recording-proxy.js";
import { everything } from "./mcp/servers.js";

/**
 * Issue 13's traces on real parts: Nubabel (PostgreSQL + Redis) in this process, the sidecar as
 * its own process (`npm run sidecar`) with the real engine and the scripted model, a registry MCP
 * server over stdio, and a local OTLP/HTTP receiver standing in for a collector. One run that
 * calls an MCP tool is one trace, its spans linked by parent ids across both services.
 */

/** The span's ancestors, nearest first, as "service/name" (stops at a parent that was not received). */
function ancestry(spans: ReceivedSpan[], span: ReceivedSpan): string[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const out: string[] = [];
  for (let at = span.parentSpanId ? byId.get(span.parentSpanId) : undefined; at; at = at.parentSpanId ? byId.get(at.parentSpanId) : undefined) {
    out.push(`${at.service}/${at.name}`);
  }
  return out;
}

/** Polls until `ok()` holds; the hook's timeout bounds it. */
async function until(ok: () => boolean): Promise<void> {
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 50));
}

async function catalogWithEverything(dir: string): Promise<string> {
  const file = path.join(dir, "catalog.json");
  const server = { transport: { type: "stdio", command: process.execPath, args: [await everything(), "stdio"] }, credentials: ["EVERYTHING_TOKEN"] };
  writeFileSync(file, JSON.stringify({ providers: { everything: server } }));
  return file;
}

const script = (model: ModelServer) =>
  model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "everything", toolName: "echo", args: { message: "traced" } } }] }, { text: "echoed" });

describe("tracing on: one run is one trace across Nubabel, the sidecar and the MCP call", () => {
  const secrets = testSecrets();
  const data = tempDir("tracing");
  const logs: string[] = [];
  let receiver: OtlpReceiver;
  let model: ModelServer;
  let sidecar: ServiceProcess;
  let nubabel: TestNubabel | undefined;
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let first: { runId: string; status?: string; output?: string };
  let second: DelegateResponse;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    model = await ModelServer.start();
    backend = await backendEnv("shared");
    const [nubabelPort, sidecarPort] = [await freePort(), await freePort()];
    sidecar = startService("sidecar", {
      SIDECAR_PORT: String(sidecarPort),
      SIDECAR_SHARED_SECRET: secrets.SIDECAR_SHARED_SECRET,
      NUBABEL_CALLBACK_URL: `http://127.0.0.1:${nubabelPort}`,
      SIDECAR_DATA_DIR: path.join(data.dir, "sidecar"),
      MODEL_BASE_URL: model.url,
      MODEL_NAME: "scripted",
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      // The SDK's own setting: export every 200 ms rather than 5 s, so the test need not wait.
      OTEL_BSP_SCHEDULE_DELAY: "200",
      LOG_LEVEL: "warn",
    });
    await waitHealthy(`http://127.0.0.1:${sidecarPort}/health`, sidecar);
    nubabel = await startTestNubabel(
      {
        ...backend.env,
        ...secrets,
        NUBABEL_PORT: String(nubabelPort),
        SIDECAR_URL: `http://127.0.0.1:${sidecarPort}`,
        NUBABEL_MCP_CATALOG: await catalogWithEverything(data.dir),
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        // One run at a time: the second waits in the queue and is dispatched when the first ends.
        ORG_MAX_RUNNING: "1",
        LOG_LEVEL: "info",
      },
      { logDestination: { write: (line: string) => void logs.push(line) } },
    );
    const org = await createOrganization(nubabel, "Traced");
    const created = await nubabel.api("/api/connections", { apiKey: org.apiKey, body: { provider: "everything", credentials: { EVERYTHING_TOKEN: "ev-secret-token" } } });
    expect(created.status).toBe(201);
    script(model);
    model.script({ text: "second" });
    const accepted = await nubabel.api("/api/delegate", { apiKey: org.apiKey, body: { prompt: "echo something, privately" }, headers: { prefer: "respond-async" } });
    const { runId } = (await accepted.json()) as { runId: string };
    const res = await nubabel.api("/api/delegate", { apiKey: org.apiKey, body: { prompt: "then this" } });
    second = (await res.json()) as DelegateResponse;
    first = { runId, ...((await (await nubabel.api(`/api/runs/${runId}`, { apiKey: org.apiKey })).json()) as { status: string; output: string }) };
    // Nubabel flushes its spans as it stops; the sidecar exports as it goes (its turn's spans end
    // around the result it sends), so wait for them before stopping it.
    await nubabel.close();
    nubabel = undefined;
    const count = (name: string) => receiver.spans.filter((s) => s.name === name).length;
    await until(() => count("engine.turn") === 2 && count("model.wait") === 2 && count("bridge mcp invoke") === 1);
    await sidecar.stop();
  }, 240_000);

  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.stop();
    await model?.close();
    await receiver?.close();
    await backend?.cleanup();
    data.remove();
  });

  it("the first run used the tool; the second waited for it", () => {
    expect(first).toMatchObject({ status: "completed", output: "echoed" });
    expect(second).toMatchObject({ status: "success", output: "second" });
  });

  it("links the API request, the run, the sidecar's turn, the bridge and the tool call by parent ids", () => {
    const spans = receiver.spans;
    const runSpan = spans.find((s) => s.name === "run" && s.attributes["nubabel.run.id"] === first.runId)!;
    const root = spans.find((s) => s.spanId === runSpan.parentSpanId)!;
    expect(root.name).toBe("POST /api/delegate");
    expect(root.parentSpanId).toBeUndefined();
    const trace = spans.filter((s) => s.traceId === root.traceId);

    const toolCall = trace.find((s) => s.name === "mcp tools/call echo");
    expect(toolCall, `spans: ${spans.map((s) => `${s.service}/${s.name}`).join(", ")}`).toBeDefined();
    expect(toolCall!.service).toBe("nubabel");
    expect(ancestry(trace, toolCall!)).toEqual([
      "nubabel/mcp.invoke",
      "nubabel/POST /api/sidecar/mcp/invoke",
      "opencode-sidecar/bridge mcp invoke",
      "opencode-sidecar/engine.turn",
      "opencode-sidecar/POST /delegate",
      "nubabel/run.dispatch",
      "nubabel/run",
      "nubabel/POST /api/delegate",
    ]);
    const wait = trace.find((s) => s.name === "model.wait");
    expect(wait && ancestry(trace, wait)[0]).toBe("opencode-sidecar/engine.turn");
    // The sidecar's callbacks (the result at least) continue the run's trace in Nubabel.
    const result = trace.find((s) => s.service === "nubabel" && s.name.includes("/result"));
    expect(result && ancestry(trace, result).slice(0, 2)).toEqual(["opencode-sidecar/engine.turn", "opencode-sidecar/POST /delegate"]);
    // Every span of the run went to that one trace.
    const turns = spans.filter((s) => s.attributes["sidecar.run.id"] === first.runId);
    expect(turns.length).toBe(1);
    expect(turns[0]!.traceId).toBe(root.traceId);
  });

  it("a run that waited in the queue is dispatched in its own trace, from its stored traceparent", () => {
    const spans = receiver.spans;
    const runs = spans.filter((s) => s.name === "run");
    expect(runs).toHaveLength(2);
    expect(new Set(runs.map((s) => s.traceId)).size).toBe(2);
    const queued = runs.find((s) => s.attributes["nubabel.run.id"] !== first.runId)!;
    const dispatch = spans.find((s) => s.name === "run.dispatch" && s.traceId === queued.traceId)!;
    // Started by the first run's result callback, yet a child of its own run, not of that callback.
    expect(ancestry(spans, dispatch)).toEqual(["nubabel/run", "nubabel/POST /api/delegate"]);
    const turn = spans.find((s) => s.name === "engine.turn" && s.traceId === queued.traceId)!;
    expect(ancestry(spans, turn).slice(-3)).toEqual(["nubabel/run.dispatch", "nubabel/run", "nubabel/POST /api/delegate"]);
  });

  it("keeps prompts, arguments and credentials out of spans", () => {
    const text = JSON.stringify(receiver.spans);
    expect(text).not.toContain("privately");
    expect(text).not.toContain("traced");
    expect(text).not.toContain("ev-secret-token");
    expect(text).not.toContain(secrets.SIDECAR_SHARED_SECRET);
  });

  it("log lines written during the run carry its trace id", () => {
    const run = receiver.spans.find((s) => s.name === "run" && s.attributes["nubabel.run.id"] === first.runId)!;
    const lines = logs.map((l) => JSON.parse(l) as { msg: string; runId?: string; traceId?: string });
    expect(lines.find((l) => l.msg === "run accepted" && l.runId === first.runId)?.traceId).toBe(run.traceId);
  });
});

describe("tracing off: nothing is exported and no traceparent is sent or needed", () => {
  const secrets = testSecrets();
  const data = tempDir("untraced");
  let receiver: OtlpReceiver;
  let real: RealSidecar;
  /** Nubabel → sidecar and sidecar → Nubabel (callbacks), to read the headers that crossed. */
  let toSidecar: RecordingProxy;
  let toNubabel: RecordingProxy;
  let nubabel: TestNubabel;
  let backend: Awaited<ReturnType<typeof backendEnv>>;

  beforeAll(async () => {
    receiver = await OtlpReceiver.start();
    backend = await backendEnv("shared");
    const port = await freePort();
    toNubabel = await RecordingProxy.start(`http://127.0.0.1:${port}`);
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET, { NUBABEL_CALLBACK_URL: toNubabel.url });
    toSidecar = await RecordingProxy.start(real.sidecar.url);
    nubabel = await startTestNubabel({
      ...backend.env,
      ...secrets,
      NUBABEL_PORT: String(port),
      NUBABEL_URL: toNubabel.url,
      SIDECAR_URL: toSidecar.url,
      NUBABEL_MCP_CATALOG: await catalogWithEverything(data.dir),
    });
  }, 240_000);

  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await toSidecar?.close();
    await toNubabel?.close();
    await receiver?.close();
    await backend?.cleanup();
    data.remove();
  });

  it("runs a tool-using delegation without exporting or sending trace context", async () => {
    const org = await createOrganization(nubabel, "Untraced");
    const created = await nubabel.api("/api/connections", { apiKey: org.apiKey, body: { provider: "everything", credentials: { EVERYTHING_TOKEN: "x" } } });
    expect(created.status).toBe(201);
    script(real.model);
    const res = await nubabel.api("/api/delegate", { apiKey: org.apiKey, body: { prompt: "echo" } });
    expect(await res.json()).toMatchObject({ status: "success", output: "echoed" });
    const crossed = [...toSidecar.exchanges, ...toNubabel.exchanges];
    expect(crossed.some((e) => e.path === "/api/sidecar/mcp/invoke")).toBe(true);
    expect(crossed.filter((e) => e.headers.traceparent !== undefined)).toEqual([]);
    expect(receiver.requests).toBe(0);
  });
});
