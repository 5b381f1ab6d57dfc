import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { Metrics as Shared } from "@nubabel/telemetry";

/** Seconds; from a tenth of a second to the longest run (`RUN_TIMEOUT_MS` is ten minutes by default). */
const RUN_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];
const FAST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Nubabel's own metrics, on one registry. Labels are bounded: statuses, kinds and outcomes are
 * small fixed sets, sidecars are the configured pool, MCP providers are capped (`boundedLabel`);
 * no organization, session or run id is ever a label. Gauges that mirror state elsewhere (runs in
 * the database, the pool, circuits) are read at scrape time by `collect`, so nothing keeps them.
 */
export function nubabelMetrics(registry: Registry, read: StateSources) {
  const registers = [registry];
  return {
    runs: new Counter({ name: "nubabel_runs_total", help: "Runs ended on this instance, by final status", labelNames: ["status"], registers }),
    runDuration: new Histogram({
      name: "nubabel_run_duration_seconds",
      help: "From a run's acceptance to its end (queueing included), by final status",
      labelNames: ["status"],
      buckets: RUN_BUCKETS,
      registers,
    }),
    firstProgress: new Histogram({
      name: "nubabel_run_first_progress_seconds",
      help: "From handing a run to a sidecar to its first progress event",
      buckets: FAST_BUCKETS,
      registers,
    }),
    unfinished: new Gauge({
      name: "nubabel_runs_unfinished",
      help: "Runs queued or running now, all instances (read from the database at scrape)",
      labelNames: ["status"],
      registers,
      async collect() {
        const counts = await read.unfinished().catch(() => undefined);
        // The database down: no sample rather than a false zero (its state shows in /health).
        this.reset();
        if (!counts) return;
        this.set({ status: "queued" }, counts.queued);
        this.set({ status: "running" }, counts.running);
      },
    }),
    sse: new Gauge({ name: "nubabel_sse_connections", help: "Progress streams (SSE) open on this instance", registers }),
    callbacks: new Counter({
      name: "nubabel_callbacks_total",
      help: "Sidecar callbacks received, by kind (update, progress, result, mcp_invoke, mcp_list) and result (ok, refused: 4xx, error: 5xx)",
      labelNames: ["kind", "result"],
      registers,
    }),
    mcpCalls: new Counter({ name: "nubabel_mcp_calls_total", help: "MCP tool calls, by provider and outcome (ok, tool_error, error)", labelNames: ["provider", "outcome"], registers }),
    mcpDuration: new Histogram({ name: "nubabel_mcp_call_duration_seconds", help: "MCP tool call time, by provider and outcome", labelNames: ["provider", "outcome"], buckets: FAST_BUCKETS, registers }),
    circuit: new Gauge({
      name: "nubabel_sidecar_circuit_state",
      help: "Each called sidecar's circuit breaker: 0 closed, 1 open, 2 half-open",
      labelNames: ["sidecar"],
      registers,
      collect() {
        this.reset();
        for (const { url, state } of read.circuits()) this.set({ sidecar: url }, CIRCUIT_VALUE[state]);
      },
    }),
    sidecars: new Gauge({
      name: "nubabel_sidecars",
      help: "Sidecars of the pool by state (ready, unready, gone, unknown)",
      labelNames: ["state"],
      registers,
      collect() {
        const counts: Record<string, number> = { ready: 0, unready: 0, gone: 0, unknown: 0 };
        for (const member of read.sidecars()) counts[member.state] = (counts[member.state] ?? 0) + 1;
        for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
      },
    }),
    slackCalls: new Counter({ name: "nubabel_slack_api_calls_total", help: "Slack Web API calls by method and outcome (ok, error)", labelNames: ["method", "outcome"], registers }),
    slackRateLimited: new Counter({ name: "nubabel_slack_rate_limited_total", help: "Slack 429 answers the Web API client waited out, by method", labelNames: ["method"], registers }),
    slackRateLimitWait: new Counter({ name: "nubabel_slack_rate_limit_wait_seconds_total", help: "Seconds Slack told the client to wait, by method", labelNames: ["method"], registers }),
    provider: Shared.boundedLabel(50),
  };
}

/** What the scrape-time gauges read. */
export interface StateSources {
  unfinished(): Promise<{ running: number; queued: number }>;
  circuits(): Array<{ url: string; state: "closed" | "open" | "half_open" }>;
  sidecars(): Array<{ state: string }>;
}

const CIRCUIT_VALUE = { closed: 0, open: 1, half_open: 2 } as const;

export type NubabelMetrics = ReturnType<typeof nubabelMetrics>;
