/**
 * What both services need to be observed: Prometheus metrics behind a token (`metrics.ts`),
 * readable logs (`logs.ts`) and OpenTelemetry traces across the services (`tracing.ts`). Each
 * service keeps its own metric names; this package holds the mechanics, once.
 */
export * as Tracing from "./tracing.js";
export { serverSpans } from "./server-spans.js";
export * as Metrics from "./metrics.js";
export * as Logs from "./logs.js";
export { METRICS_ENV, metricsEnvProblem } from "./metrics-env.js";
