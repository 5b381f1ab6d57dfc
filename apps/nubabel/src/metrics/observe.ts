import { isTerminal, type ProgressEvent } from "@nubabel/contracts";
import { LRUCache } from "lru-cache";
import type { McpGateway } from "../mcp-gateway.js";
import type { ProgressLog } from "../progress/progress-log.js";
import type { RunEvents } from "../runs/ports.js";
import type { SlackObserver } from "../slack/index.js";
import type { NubabelMetrics } from "./metrics.js";

const seconds = (from: number) => (performance.now() - from) / 1000;

/**
 * Run lifecycle → metrics. The hand-over time of each run waits here for its first progress event
 * (bounded: a run whose events go to another instance is dropped when it ends, or by age).
 */
export function runObserver(m: NubabelMetrics): { events: RunEvents; progress(event: ProgressEvent): void } {
  const handedOver = new LRUCache<string, number>({ max: 10_000, ttl: 3_600_000 });
  return {
    events: {
      starting: (run) => void handedOver.set(run.id, performance.now()),
      ended: (run) => {
        handedOver.delete(run.id);
        m.runs.inc({ status: run.status });
        if (run.finishedAt) m.runDuration.observe({ status: run.status }, (run.finishedAt.getTime() - run.createdAt.getTime()) / 1000);
      },
    },
    progress(event) {
      // A run's end is not progress: a run that failed at once has no first progress to time.
      if (!event.runId || isTerminal(event)) return;
      const at = handedOver.get(event.runId);
      if (at === undefined) return;
      handedOver.delete(event.runId);
      m.firstProgress.observe(seconds(at));
    },
  };
}

/** The progress log, telling `onEvent` of each event appended (after it is stored). */
export function observedProgress(log: ProgressLog, onEvent: (event: ProgressEvent) => void): ProgressLog {
  return {
    async append(stream, event) {
      const id = await log.append(stream, event);
      onEvent(event);
      return id;
    },
    readAfter: (stream, afterId, limit) => log.readAfter(stream, afterId, limit),
    lastId: (stream) => log.lastId(stream),
    subscribe: (stream, onAppend) => log.subscribe(stream, onAppend),
    watchEndings: (onEnded) => log.watchEndings(onEnded),
  };
}

/** The MCP gateway, timing each tool call by provider and outcome. */
export function observedGateway(gateway: McpGateway, m: NubabelMetrics): McpGateway {
  return {
    list: (caller, request) => gateway.list(caller, request),
    async invoke(caller, request) {
      const start = performance.now();
      let outcome = "error";
      try {
        const answer = await gateway.invoke(caller, request);
        outcome = answer.isError ? "tool_error" : "ok";
        return answer;
      } finally {
        const labels = { provider: m.provider(request.provider), outcome };
        m.mcpCalls.inc(labels);
        m.mcpDuration.observe(labels, seconds(start));
      }
    },
  };
}

export function slackObserver(m: NubabelMetrics): SlackObserver {
  return {
    call: (method, ok) => m.slackCalls.inc({ method, outcome: ok ? "ok" : "error" }),
    rateLimited(method, retryAfterSeconds) {
      m.slackRateLimited.inc({ method });
      m.slackRateLimitWait.inc({ method }, retryAfterSeconds);
    },
  };
}
