import { context, type Span, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { enabled, extract, tracer } from "./tracing.js";

/** The little of Fastify this needs (kept structural so this package does not depend on it). */
interface Request {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  routeOptions: { url?: string };
}
interface Reply {
  statusCode: number;
}
interface App {
  addHook(name: "onRequest", hook: (req: Request, reply: Reply, done: () => void) => void): unknown;
  addHook(name: "onResponse", hook: (req: Request, reply: Reply, done: () => void) => void): unknown;
}

const spans = new WeakMap<object, Span>();

/**
 * A server span per request, a child of the caller's `traceparent` when it sent one, named by
 * route pattern (never the raw path: ids stay out of names). The rest of the request runs with
 * it active, so log lines carry its trace id and calls made meanwhile continue its trace.
 * With tracing off the span is a no-op and nothing is read from the headers.
 */
export function serverSpans(app: App, options: { skip?: (path: string) => boolean; tracer: string }): void {
  app.addHook("onRequest", (req, _reply, done) => {
    const route = req.routeOptions.url;
    if (!enabled() || options.skip?.(route ?? req.url)) return done();
    const parent = extract(req.headers);
    const span = tracer(options.tracer).startSpan(
      `${req.method} ${route ?? "(unmatched)"}`,
      { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method, ...(route ? { "http.route": route } : {}) } },
      parent,
    );
    spans.set(req, span);
    // Fastify runs the rest of the request from `done`: binding it carries the context through.
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook("onResponse", (req, reply, done) => {
    const span = spans.get(req);
    if (span) {
      span.setAttribute("http.response.status_code", reply.statusCode);
      if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    }
    done();
  });
}
