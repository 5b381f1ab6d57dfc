import { context, propagation, ROOT_CONTEXT, type Context, type Span, type SpanOptions, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";

/**
 * OpenTelemetry traces, the same way in both services: nothing is registered unless an OTLP
 * endpoint is configured, so with tracing off every call below goes to the API's no-op
 * implementation (no spans, no `traceparent` sent or needed). Spans are explicit, at the few
 * places that matter; the context travels in W3C `traceparent` headers and, for a run that
 * waits in a queue, in the run's stored `traceparent`.
 */

export type { Context, Span };
export { SpanKind } from "@opentelemetry/api";

export interface TracingOptions {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL; spans go to `<endpoint>/v1/traces` (OTLP/HTTP JSON). */
  endpoint?: string;
  /** `OTEL_SERVICE_NAME`, or the service's own name. */
  serviceName: string;
}

/** Flushes and stops the exporter; a no-op when tracing is off. */
export type StopTracing = () => Promise<void>;

let provider: NodeTracerProvider | undefined;
let users = 0;

/** Whether spans are recorded and exported (an endpoint was configured). */
export function enabled(): boolean {
  return provider !== undefined;
}

/**
 * Starts tracing when an endpoint is configured; returns how to flush and stop it. The API's
 * provider is global to the process: a second service in the same process (tests) shares the
 * first one's, which stops with the last of them.
 */
export function start(options: TracingOptions): StopTracing {
  if (!options.endpoint) return async () => undefined;
  if (!provider) {
    const url = `${options.endpoint.replace(/\/+$/, "")}/v1/traces`;
    provider = new NodeTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
      // Batched off the hot path; OTEL_BSP_* tune it as the SDK documents.
      spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url }))],
    });
    // Registers the AsyncLocalStorage context manager and the W3C trace-context propagator.
    provider.register();
  }
  users++;
  let stopped = false;
  return async () => {
    if (stopped || !provider) return;
    stopped = true;
    if (--users > 0) return void (await provider.forceFlush().catch(() => undefined));
    const last = provider;
    provider = undefined;
    await last.shutdown().catch(() => undefined);
    trace.disable();
    propagation.disable();
    context.disable();
  };
}

/** The tracer of one service module (`nubabel.runs`, `sidecar.turn`…). */
export function tracer(name: string) {
  return trace.getTracer(name);
}

/**
 * Runs `fn` inside a new active span (a child of the active context, or of `parent`), ending it
 * when `fn` settles; a throw marks the span an error and is rethrown.
 */
export async function inSpan<T>(name: string, options: SpanOptions & { parent?: Context; tracer?: string }, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  return tracer(options.tracer ?? "nubabel").startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      fail(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks `span` failed with the error's name (messages may quote what a person wrote, so they stay out). */
export function fail(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : "error" });
}

/** Headers carrying the active (or given) context to another service: `traceparent`, or nothing when off. */
export function headers(from?: Context): Record<string, string> {
  // Off, the hot path (every call between the services) pays nothing.
  if (!provider) return {};
  const carrier: Record<string, string> = {};
  propagation.inject(from ?? context.active(), carrier);
  return carrier;
}

/** The context another service sent in its headers (the root context when it sent none). */
export function extract(carrier: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(ROOT_CONTEXT, carrier);
}

/** The `traceparent` of the active (or given) context, to store with work that goes on later; undefined when off. */
export function traceparentOf(from?: Context): string | undefined {
  return headers(from).traceparent;
}

/** The context a stored `traceparent` names (the active one when there is none). */
export function fromTraceparent(traceparent: string | null | undefined): Context {
  return traceparent ? extract({ traceparent }) : context.active();
}

/** Runs `fn` with `ctx` active, so spans it starts and headers it sends continue that trace. */
export function withContext<T>(ctx: Context, fn: () => T): T {
  return context.with(ctx, fn);
}

/** The active context with `span` as its current span. */
export function contextOf(span: Span): Context {
  return trace.setSpan(context.active(), span);
}

/** The active context, to keep for work that continues later on another async path. */
export function active(): Context {
  return context.active();
}

/**
 * Fields for every log line (a pino `mixin`): the active span's trace and span ids, none when off.
 * A new object each time: pino merges the line's own fields into what a mixin returns.
 */
export function logFields(): { traceId?: string; spanId?: string } {
  if (!provider) return {};
  const span = trace.getSpan(context.active());
  if (!span) return {};
  const spanContext = span.spanContext();
  return trace.isSpanContextValid(spanContext) ? { traceId: spanContext.traceId, spanId: spanContext.spanId } : {};
}
