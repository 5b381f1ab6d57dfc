import type { StreamEvent, StreamToken } from "@nubabel/contracts";
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "./api.js";

/** One tool call as the live view shows it. */
export interface ToolCall {
  callId: string;
  tool: string;
  state: "running" | "done" | "failed";
  error?: string;
}

/** What one run has shown so far: its tools in order and its text (whole, as last sent). */
export interface RunProgress {
  tools: ToolCall[];
  text: string;
  /** `connected`, `busy`, `retry`… the engine's last word on the run. */
  status?: string;
  ended?: "completed" | "failed";
}

export type Connection = "connecting" | "live" | "reconnecting" | "closed";

/**
 * A session's progress over Server-Sent Events, per run. The stream is opened with a short-lived
 * token from `POST /api/sessions/:id/stream-token` (the API key never goes into a URL) and, when
 * the browser gives up on it (an expired token), reopened with a new one from the last event seen.
 * `onEvent` hears every event (the page reloads its runs when one starts, waits or ends).
 */
export function useProgress(sessionId: string, onEvent: (event: StreamEvent) => void): { runs: Map<string, RunProgress>; connection: Connection } {
  const [runs, setRuns] = useState(() => new Map<string, RunProgress>());
  const [connection, setConnection] = useState<Connection>("connecting");
  const listener = useRef(onEvent);
  listener.current = onEvent;

  useEffect(() => {
    let source: EventSource | undefined;
    let stopped = false;
    let lastId = "0";
    let retry: ReturnType<typeof setTimeout> | undefined;
    setRuns(new Map());

    async function open() {
      try {
        const { url } = await api<StreamToken>(`/api/sessions/${encodeURIComponent(sessionId)}/stream-token`, { method: "POST" });
        if (stopped) return;
        source = new EventSource(`${url}&lastEventId=${encodeURIComponent(lastId)}`);
        source.onopen = () => setConnection("live");
        source.onmessage = (message: MessageEvent<string>) => {
          const event = JSON.parse(message.data) as StreamEvent;
          if (message.lastEventId) lastId = message.lastEventId;
          setRuns((previous) => apply(previous, event));
          listener.current(event);
        };
        source.onerror = () => {
          if (source?.readyState !== EventSource.CLOSED) return setConnection("reconnecting");
          // Refused (an expired token) or gone for good: ask for a new token, a little later.
          source.close();
          setConnection("reconnecting");
          retry = setTimeout(() => void open(), 2_000);
        };
      } catch {
        if (!stopped) {
          setConnection("reconnecting");
          retry = setTimeout(() => void open(), 5_000);
        }
      }
    }
    void open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
      setConnection("closed");
    };
  }, [sessionId]);

  return { runs, connection };
}

/** The next state of the per-run view after one event; the map is copied, never changed. */
export function apply(previous: Map<string, RunProgress>, event: StreamEvent): Map<string, RunProgress> {
  if (event.type === "connected") return previous;
  const key = event.runId ?? "";
  const run: RunProgress = { tools: [], text: "", ...previous.get(key) };
  switch (event.type) {
    case "message_updated":
      run.text = event.data.text;
      break;
    case "tool_started":
      if (!run.tools.some((t) => t.callId === event.data.callId)) run.tools = [...run.tools, { callId: event.data.callId, tool: event.data.tool, state: "running" }];
      break;
    case "tool_completed":
    case "tool_failed": {
      const done: ToolCall = {
        callId: event.data.callId,
        tool: event.data.tool,
        state: event.type === "tool_completed" ? "done" : "failed",
        ...(event.type === "tool_failed" ? { error: event.data.error } : {}),
      };
      const known = run.tools.some((t) => t.callId === done.callId);
      run.tools = known ? run.tools.map((t) => (t.callId === done.callId ? done : t)) : [...run.tools, done];
      break;
    }
    case "status":
      run.status = event.data.status;
      break;
    case "completed":
      run.ended = "completed";
      if (event.data.output) run.text = event.data.output;
      break;
    case "session_error":
      run.ended = "failed";
      break;
    default:
      return previous;
  }
  return new Map(previous).set(key, run);
}
