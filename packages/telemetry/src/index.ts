/**
 * What both services need to be observed: Prometheus metrics behind a token (`metrics.ts`) and
 * OpenTelemetry traces across the services (`tracing.ts`). Each service keeps its own metric names;
 * this package holds the mechanics, once.
 */
export * as Tracing from "./tracing.js";
export { serverSpans } from "./server-spans.js";
