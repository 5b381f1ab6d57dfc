import type { FastifyInstance } from "fastify";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { EngineState } from "@nubabel/contracts";
import { Metrics } from "@nubabel/telemetry";
import type { Run } from "../runs/run.js";

const ENGINE_STATES: readonly EngineState[] = ["starting", "running", "restarting", "stopped", "attached"];
const TURN_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** What the scrape-time gauges read: the engine and its instances, as `/health` shows them. */
export interface EngineSources {
  state(): EngineState;
  /** Engines that exited by themselves (each restarted). */
  crashes(): number;
  /** Engines killed for answering nothing, then restarted (a supervised engine only). */
  unresponsive?(): number;
  /** Planned restarts for memory (a supervised engine only). */
  recycles?(): number;
  rssBytes?(): number | undefined;
  instances(): number;
}

/** Bridge routes by their pattern: the kind label is a lookup. */
const BRIDGE_KINDS: Record<string, string> = {
  "/internal/bridge/mcp/invoke": "mcp_invoke",
  "/internal/bridge/mcp/list": "mcp_list",
};

/** A callback's kind from its URL path (`…/sessions/ses_…/progress` → `progress`), never the path itself. */
export function callbackKind(path: string): string {
  const match = /\/(progress|update|result)$|\/mcp\/(invoke|list)$/.exec(path);
  if (!match) return "other";
  return match[1] ?? `mcp_${match[2]}`;
}

const resultOf = (status: number) => (status < 400 ? "ok" : status < 500 ? "refused" : "error");

/**
 * The sidecar's metrics, on one registry. Labels are small fixed sets; no session, run or
 * organization id and no raw path is a label. Engine state is read at scrape time.
 */
export function sidecarMetrics(registry: Registry, engine: EngineSources) {
  const registers = [registry];
  const turns = new Counter({ name: "sidecar_turns_total", help: "Turns ended, by final status (completed, failed, aborted)", labelNames: ["status"], registers });
  const turnDuration = new Histogram({ name: "sidecar_turn_duration_seconds", help: "A turn's run time, by final status", labelNames: ["status"], buckets: TURN_BUCKETS, registers });
  new Gauge({
    name: "sidecar_engine_state",
    help: "1 for the engine's current state (starting, running, restarting, stopped, attached), 0 for the others",
    labelNames: ["state"],
    registers,
    collect() {
      const now = engine.state();
      for (const state of ENGINE_STATES) this.set({ state }, state === now ? 1 : 0);
    },
  });
  new Counter({
    name: "sidecar_engine_restarts_total",
    help: "Engine restarts: after a crash, after the watchdog killed an engine that answered nothing, or planned (recycle) for memory it did not give back",
    labelNames: ["reason"],
    registers,
    collect() {
      this.reset();
      this.inc({ reason: "crash" }, engine.crashes());
      if (engine.unresponsive) this.inc({ reason: "unresponsive" }, engine.unresponsive());
      if (engine.recycles) this.inc({ reason: "recycle" }, engine.recycles());
    },
  });
  new Gauge({
    name: "sidecar_engine_rss_bytes",
    help: "Resident memory of the supervised engine process (absent while it is down or attached)",
    registers,
    collect() {
      this.reset();
      const rss = engine.rssBytes?.();
      if (rss !== undefined) this.set(rss);
    },
  });
  new Gauge({ name: "sidecar_engine_instances", help: "Engine instances loaded (one per organization's workspace in use)", registers, collect() { this.set(engine.instances()); } });
  const deliveries = new Counter({
    name: "sidecar_callback_deliveries_total",
    help: "Callback attempts to Nubabel, by kind (progress, update, result, mcp_invoke, mcp_list) and outcome (ok, rejected: 4xx, failed)",
    labelNames: ["kind", "outcome"],
    registers,
  });
  const retries = new Counter({ name: "sidecar_callback_retries_total", help: "Callback attempts that repeat an earlier one of the same message, by kind", labelNames: ["kind"], registers });
  const bridge = new Counter({
    name: "sidecar_bridge_calls_total",
    help: "Calls from the engine's plugin over the bridge, by kind (mcp_invoke, mcp_list) and result (ok, refused: 4xx, error: 5xx)",
    labelNames: ["kind", "result"],
    registers,
  });
  const asks = new Counter({
    name: "sidecar_permission_asks_total",
    help: "The engine's permission asks, by outcome (allowed: let run at once, asked: held for a person, refused: no run behind it)",
    labelNames: ["outcome"],
    registers,
  });

  return {
    permissionAsk(outcome: "allowed" | "asked" | "refused"): void {
      asks.inc({ outcome });
    },
    turnEnded(run: Run): void {
      turns.inc({ status: run.status });
      if (run.durationMs !== undefined) turnDuration.observe({ status: run.status }, run.durationMs / 1000);
    },
    callbackAttempt({ path, retry, outcome }: { path: string; retry: boolean; outcome: string }): void {
      const kind = callbackKind(path);
      deliveries.inc({ kind, outcome });
      if (retry) retries.inc({ kind });
    },
    /** HTTP requests by route and status class, and bridge calls; call before routes are added. */
    instrument(app: FastifyInstance): void {
      Metrics.countRequests(app, registry, "sidecar_http_requests_total", (route, _request, reply) => {
        const kind = BRIDGE_KINDS[route];
        if (kind) bridge.inc({ kind, result: resultOf(reply.statusCode) });
      });
    },
  };
}

export type SidecarMetrics = ReturnType<typeof sidecarMetrics>;
