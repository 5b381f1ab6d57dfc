import { LRUCache } from "lru-cache";
import { Tracing } from "@nubabel/telemetry";
import type { Run } from "./run.js";

const tracer = "nubabel.runs";

/**
 * The `run` span of each run accepted here, from acceptance (queued) to its end. The span lives
 * in this process, but a run may end on another instance: its end is heard of through the
 * progress log's announcement of endings, and a span whose end is never heard of is ended when
 * it falls out of the cache or at shutdown, marked so. Its context is stored with the run
 * (`traceparent`), so the dispatch, wherever it happens, continues the same trace.
 */
export class RunSpans {
  private readonly open = new LRUCache<string, Tracing.Span>({
    max: 10_000,
    dispose: (span, _id, reason) => {
      if (reason === "evict") span.setAttribute("nubabel.run.end_unknown", true).end();
    },
  });

  /** Starts the span of a run about to be stored; returns its `traceparent` (undefined with tracing off). */
  begin(runId: string, sessionId: string): string | undefined {
    if (!Tracing.enabled()) return undefined;
    const span = Tracing.tracer(tracer).startSpan("run", { attributes: { "nubabel.run.id": runId, "nubabel.session.id": sessionId } });
    this.open.set(runId, span);
    return Tracing.traceparentOf(Tracing.contextOf(span));
  }

  /** The run's admission was refused: its span ends at once. */
  refused(runId: string): void {
    this.close(runId, "refused");
  }

  /** The run ended (here or elsewhere); `status` when known. */
  ended(runId: string, status?: string): void {
    this.close(runId, status);
  }

  /** Hands `run` to a sidecar inside a `run.dispatch` span continuing the run's stored trace. */
  dispatching<T>(run: Run, fn: () => Promise<T>): Promise<T> {
    if (!run.traceparent) return fn();
    const attributes = { "nubabel.run.id": run.id, "nubabel.session.id": run.sessionId };
    return Tracing.inSpan("run.dispatch", { tracer, parent: Tracing.fromTraceparent(run.traceparent), attributes }, fn);
  }

  /** Ends what is still open (shutdown): those runs' ends happen elsewhere or later. */
  close(runId?: string, status?: string): void {
    if (runId === undefined) {
      for (const [id, span] of [...this.open.entries()]) {
        this.open.delete(id);
        span.setAttribute("nubabel.run.end_unknown", true).end();
      }
      return;
    }
    const span = this.open.get(runId);
    if (!span) return;
    this.open.delete(runId);
    if (status) span.setAttribute("nubabel.run.status", status);
    span.end();
  }
}
