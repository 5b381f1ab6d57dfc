import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiRun } from "@nubabel/contracts";
import { Scrape } from "@nubabel/testkit";
import type { McpGateway } from "../src/mcp-gateway.js";
import { backendEnv } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";

const NUBABEL_TOKEN = "nubabel-metrics-token-0123456789";
const SIDECAR_TOKEN = "sidecar-metrics-token-0123456789";

/** A gateway with one tool, so a run's MCP call needs no MCP server; the metrics wrap it all the same. */
const tools: McpGateway = {
  async invoke(_caller, request) {
    return { result: { content: [{ type: "text", text: `pong from ${request.toolName}` }] } };
  },
  async list() {
    return { providers: [] };
  },
};

const scrape = async (url: string, token?: string) => {
  const res = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  return { status: res.status, text: await res.text() };
};

/**
 * Issue 13's acceptance 1 and 4 (the busy run's log) on real parts: the real sidecar and engine
 * with the scripted model, PostgreSQL and Redis when available.
 */
describe("metrics on both services, and a busy run's log", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let acme: { apiKey: string; organizationId: string };
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    backend = await backendEnv("shared");
    // The sidecar serves /metrics on a listener of its own; Nubabel on its main port.
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET, { METRICS_TOKEN: SIDECAR_TOKEN, METRICS_PORT: "0" });
    nubabel = await startTestNubabel(
      { ...backend.env, ...secrets, SIDECAR_URL: real.sidecar.url, NUBABEL_PORT: String(real.nubabelPort), METRICS_TOKEN: NUBABEL_TOKEN, LOG_LEVEL: "info" },
      { mcp: tools, logDestination: { write: (line) => void lines.push(JSON.parse(line) as Record<string, unknown>) } },
    );
    acme = await createOrganization(nubabel, "Acme");
  });
  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await backend?.cleanup();
  });

  const runTo = async (prompt: string) => {
    const res = await nubabel.api("/api/delegate", { body: { prompt }, apiKey: acme.apiKey, headers: { prefer: "respond-async" } });
    const { runId } = (await res.json()) as { runId: string };
    return vi.waitFor(
      async () => {
        const run = ApiRun.parse(await (await nubabel.api(`/api/runs/${runId}`, { apiKey: acme.apiKey })).json());
        expect(["completed", "failed", "aborted"]).toContain(run.status);
        return run;
      },
      { timeout: 30_000, interval: 100 },
    );
  };

  it("counts runs, their durations and first progress, callbacks, MCP calls and routes, on both services", async () => {
    // Busy: the answer streams in many chunks, so the sidecar posts progress several times.
    real.model.script({ text: "a long answer ".repeat(40).trim(), chunks: 40, delayMs: 20 });
    expect((await runTo("talk a while")).status).toBe("completed");
    real.model.script({ error: { status: 400, message: "context too long for this model" } });
    expect((await runTo("this one fails")).status).toBe("failed");
    real.model.script({ toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "tools", toolName: "ping", args: {} } }] }, { text: "the tool said pong" });
    expect(await runTo("use the tool")).toMatchObject({ status: "completed", output: "the tool said pong" });

    const n = Scrape.parse((await scrape(nubabel.url, NUBABEL_TOKEN)).text);
    expect(n.value("nubabel_runs_total", { status: "completed" })).toBe(2);
    expect(n.value("nubabel_runs_total", { status: "failed" })).toBe(1);
    expect(n.histogram("nubabel_run_duration_seconds", { status: "completed" }).count).toBe(2);
    expect(n.histogram("nubabel_run_duration_seconds", { status: "failed" }).count).toBe(1);
    expect(n.histogram("nubabel_run_duration_seconds").sum).toBeGreaterThan(0);
    // Both completed runs streamed text before their end.
    expect(n.histogram("nubabel_run_first_progress_seconds").count).toBeGreaterThanOrEqual(2);
    expect(n.value("nubabel_callbacks_total", { kind: "result", result: "ok" })).toBe(3);
    expect(n.value("nubabel_callbacks_total", { kind: "progress", result: "ok" })).toBeGreaterThanOrEqual(2);
    expect(n.value("nubabel_callbacks_total", { kind: "mcp_invoke", result: "ok" })).toBe(1);
    expect(n.value("nubabel_mcp_calls_total", { provider: "tools", outcome: "ok" })).toBe(1);
    expect(n.histogram("nubabel_mcp_call_duration_seconds", { provider: "tools", outcome: "ok" }).count).toBe(1);
    expect(n.value("nubabel_runs_unfinished", { status: "queued" })).toBe(0);
    expect(n.value("nubabel_runs_unfinished", { status: "running" })).toBe(0);
    expect(n.value("nubabel_sidecars", { state: "ready" })).toBe(1);
    expect(n.value("nubabel_sidecar_circuit_state", { sidecar: real.sidecar.url })).toBe(0);
    expect(n.value("nubabel_sse_connections")).toBe(0);
    expect(n.value("nubabel_http_requests_total", { method: "POST", route: "/api/delegate", status: "2xx" })).toBe(3);
    // Route patterns only: no run, session or organization id became a label.
    const routes = n.labelValues("nubabel_http_requests_total", "route");
    expect(routes).toContain("/api/runs/:runId");
    expect(routes.filter((r) => /ses_|run_|org_/.test(r))).toEqual([]);

    const s = Scrape.parse((await scrape(real.sidecar.metricsUrl!, SIDECAR_TOKEN)).text);
    expect(s.value("sidecar_turns_total", { status: "completed" })).toBe(2);
    expect(s.value("sidecar_turns_total", { status: "failed" })).toBe(1);
    expect(s.histogram("sidecar_turn_duration_seconds").count).toBe(3);
    expect(s.value("sidecar_engine_state", { state: "running" })).toBe(1);
    expect(s.value("sidecar_engine_state", { state: "restarting" })).toBe(0);
    expect(s.value("sidecar_engine_restarts_total", { reason: "crash" })).toBe(0);
    expect(s.value("sidecar_engine_rss_bytes")).toBeGreaterThan(10 * 1024 * 1024);
    expect(s.value("sidecar_engine_instances")).toBe(1);
    expect(s.value("sidecar_callback_deliveries_total", { kind: "result", outcome: "ok" })).toBe(3);
    expect(s.value("sidecar_callback_deliveries_total", { kind: "progress", outcome: "ok" })).toBe(n.value("nubabel_callbacks_total", { kind: "progress" }));
    expect(s.value("sidecar_callback_retries_total")).toBe(0);
    expect(s.value("sidecar_bridge_calls_total", { kind: "mcp_invoke", result: "ok" })).toBe(1);
    expect(s.labelValues("sidecar_http_requests_total", "route")).toContain("/delegate");

    // Acceptance 4: many callbacks, yet no request line of theirs at info; the runs' ends are there.
    const info = lines.filter((l) => l.level === 30);
    const callbackLines = info.filter((l) => JSON.stringify(l).includes("/api/sidecar/"));
    expect(callbackLines).toEqual([]);
    expect(info.filter((l) => l.msg === "run ended")).toHaveLength(3);
    expect(lines.some((l) => l.msg === "metrics at GET /metrics (bearer token)")).toBe(true);
  });

  it("answers 401 without the token or with a wrong one, shaped like the other errors", async () => {
    for (const [url, token] of [
      [nubabel.url, NUBABEL_TOKEN],
      [real.sidecar.metricsUrl!, SIDECAR_TOKEN],
    ] as const) {
      for (const given of [undefined, `${token}x`, token.slice(0, -1)]) {
        const res = await scrape(url, given);
        expect(res.status).toBe(401);
        expect(JSON.parse(res.text)).toMatchObject({ error: { code: "unauthorized", message: expect.any(String) } });
      }
    }
  });

  it("serves the sidecar's metrics on METRICS_PORT only, not on its main port", async () => {
    expect(real.sidecar.metricsUrl).not.toBe(real.sidecar.url);
    expect((await scrape(real.sidecar.url, SIDECAR_TOKEN)).status).toBe(404);
    expect((await scrape(real.sidecar.metricsUrl!, SIDECAR_TOKEN)).status).toBe(200);
  });

  it("serves Nubabel's metrics on METRICS_PORT only, when set", async () => {
    const own = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: real.sidecar.url, METRICS_TOKEN: NUBABEL_TOKEN, METRICS_PORT: "0" });
    try {
      expect(own.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(own.metricsUrl).not.toBe(own.url);
      expect((await scrape(own.url, NUBABEL_TOKEN)).status).toBe(404);
      expect((await scrape(own.metricsUrl!)).status).toBe(401);
      expect(Scrape.parse((await scrape(own.metricsUrl!, NUBABEL_TOKEN)).text).value("nubabel_sse_connections")).toBe(0);
    } finally {
      await own.close();
    }
    // Closed with the instance.
    await expect(fetch(`${own.metricsUrl}/metrics`)).rejects.toThrow();
  });

  it("is off without METRICS_TOKEN, and says so at start", async () => {
    const quiet: string[] = [];
    const off = await startTestNubabel(
      { ...backend.env, ...secrets, SIDECAR_URL: real.sidecar.url, LOG_LEVEL: "info" },
      { logDestination: { write: (line) => void quiet.push(line) } },
    );
    try {
      const res = await scrape(off.url, NUBABEL_TOKEN);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text)).toMatchObject({ error: { code: "not_found" } });
      expect(quiet.map((l) => (JSON.parse(l) as { msg: string }).msg)).toContain("metrics off: set METRICS_TOKEN to serve GET /metrics");
    } finally {
      await off.close();
    }
  });
});
