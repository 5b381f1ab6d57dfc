import type { RunStatus } from "@nubabel/contracts";
import type { EngineDriver, PromptInput } from "../engine/driver.js";
import { EngineDownError } from "../engine/engine.js";
import type { EngineEvent, ErrorInfo } from "../engine/events.js";
import type { SessionReporter } from "../callbacks/reporter.js";

export interface TurnInput extends PromptInput {
  timeoutMs: number;
  /** Aborts the turn (the user asked to stop). */
  signal: AbortSignal;
}

export interface TurnOutcome {
  status: RunStatus;
  output: string;
  model?: string;
  error?: ErrorInfo;
}

const TOOL_OUTPUT_LIMIT = 2_000;

/**
 * Runs one turn: sends the prompt with `promptAsync` and follows the engine's events until the
 * session is idle again, reporting progress on the way. Completion is confirmed against the
 * engine (status, then the stored last message), so a late or lost event cannot end a turn early
 * or leave it hanging.
 */
export function runTurn(
  driver: EngineDriver,
  input: TurnInput,
  reporter: SessionReporter,
  engineDown: (listener: (reason: string) => void) => () => void,
): Promise<TurnOutcome> {
  return new Promise<TurnOutcome>((resolve, reject) => {
    const startedAt = Date.now();
    let busySeen = false;
    let prompted = false;
    let settled = false;
    let sessionError: ErrorInfo | undefined;
    let checking = false;
    const userMessages = new Set<string>();
    const texts = new Map<string, Map<string, string>>(); // messageId → partId → text
    const tools = new Map<string, string>(); // callId → last reported status
    let currentMessage: string | undefined;

    const cleanup: Array<() => void> = [];
    const finish = (outcome: TurnOutcome | Error) => {
      if (settled) return;
      settled = true;
      for (const fn of cleanup) fn();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };

    let again = false;
    const finalize = async () => {
      if (settled) return;
      if (checking) {
        again = true; // an idle arrived while an earlier one was being checked
        return;
      }
      checking = true;
      try {
        do {
          again = false;
          if (await driver.isBusy(input.sessionId, input.directory)) continue; // a stale idle
          const last = await driver.lastResult(input.sessionId, input.directory);
          // Without a busy or error event of this turn (lost in a reconnect, or an idle left over
          // from the previous turn), only an answer created since the prompt proves the turn is over.
          // (This compares the engine's clock with ours; an attached engine elsewhere relies on busy.)
          const ours = busySeen || sessionError !== undefined || (last !== undefined && last.createdAt >= startedAt);
          if (!ours) continue;
          const error = sessionError ?? last?.error;
          reporter.progress({ type: "session_idle", data: {} });
          const aborted = error?.code === "MessageAbortedError" || input.signal.aborted;
          const status: RunStatus = !error ? "success" : aborted ? "aborted" : "error";
          finish({ status, output: last?.text ?? "", ...(last?.model ? { model: last.model } : {}), ...(error ? { error } : {}) });
          return;
        } while (again && !settled);
      } catch (err) {
        finish(err as Error);
      } finally {
        checking = false;
      }
    };

    const onText = (messageId: string, partId: string, text: string) => {
      if (userMessages.has(messageId)) return;
      const parts = texts.get(messageId) ?? new Map<string, string>();
      texts.set(messageId, parts);
      parts.set(partId, text);
      currentMessage = messageId;
      const whole = [...parts.values()].join("");
      if (whole.trim()) reporter.progress({ type: "message_updated", data: { text: whole, messageId } });
    };

    const onEvent = (event: EngineEvent) => {
      if (settled) return;
      if (event.type === "resync") {
        if (prompted) void finalize();
        return;
      }
      if (event.sessionId !== input.sessionId) return;
      switch (event.type) {
        case "status":
          if (event.status === "busy" && !busySeen) {
            busySeen = true;
            reporter.progress({ type: "status", data: { status: "busy" } });
          } else if (event.status === "retry") {
            reporter.progress({
              type: "status",
              data: { status: "retry", ...(event.message ? { message: event.message } : {}), ...(event.attempt ? { attempt: event.attempt } : {}) },
            });
          }
          return;
        case "idle":
          if (prompted || busySeen) void finalize();
          return;
        case "error":
          sessionError = event.error;
          return;
        case "message":
          if (event.role === "user") userMessages.add(event.messageId);
          return;
        case "text":
          onText(event.messageId, event.partId, event.text);
          return;
        case "text-delta": {
          const prior = texts.get(event.messageId)?.get(event.partId) ?? "";
          onText(event.messageId, event.partId, prior + event.delta);
          return;
        }
        case "tool": {
          const before = tools.get(event.callId);
          if (before === event.status) return;
          tools.set(event.callId, event.status);
          const base = { tool: event.tool, callId: event.callId };
          if ((event.status === "pending" || event.status === "running") && !before) {
            reporter.progress({ type: "tool_started", data: { ...base, ...(event.input ? { input: event.input } : {}) } });
          } else if (event.status === "completed") {
            reporter.progress({ type: "tool_completed", data: { ...base, output: (event.output ?? "").slice(0, TOOL_OUTPUT_LIMIT) } });
          } else if (event.status === "error") {
            reporter.progress({ type: "tool_failed", data: { ...base, error: event.error ?? "tool failed" } });
          }
          return;
        }
        default:
          return;
      }
    };

    cleanup.push(driver.onEvent(onEvent));
    cleanup.push(engineDown((reason) => finish(new EngineDownError(`${reason} during the run; it is being restarted`))));
    const timer = setTimeout(() => {
      void driver.abort(input.sessionId, input.directory).catch(() => undefined);
      finish({ status: "error", output: currentText(), error: { code: "timeout", message: `the run took longer than ${input.timeoutMs} ms and was stopped` } });
    }, input.timeoutMs);
    cleanup.push(() => clearTimeout(timer));
    const onAbort = () => void driver.abort(input.sessionId, input.directory).catch(() => undefined);
    input.signal.addEventListener("abort", onAbort, { once: true });
    cleanup.push(() => input.signal.removeEventListener("abort", onAbort));

    function currentText(): string {
      return currentMessage ? [...(texts.get(currentMessage)?.values() ?? [])].join("") : "";
    }

    driver
      .prompt({
        sessionId: input.sessionId,
        directory: input.directory,
        text: input.text,
        ...(input.system ? { system: input.system } : {}),
        ...(input.agent ? { agent: input.agent } : {}),
        ...(input.model ? { model: input.model } : {}),
      })
      .then(() => {
        prompted = true;
        if (input.signal.aborted) onAbort();
      })
      .catch((err: Error) => finish(err));
  });
}
