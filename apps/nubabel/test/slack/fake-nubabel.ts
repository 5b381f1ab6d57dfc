import type { DelegateResponse, ProgressEvent } from "@nubabel/contracts";
import type { DelegateTurn, NubabelPort } from "../../src/slack/index.js";

/** What a scripted turn may do: emit progress, wait to be aborted, answer or throw. */
export interface TurnScript {
  (turn: DelegateTurn, tools: { emit(event: ProgressEvent): void; aborted: Promise<void> }): Promise<DelegateResponse>;
}

/**
 * A stand-in for Nubabel's core behind `NubabelPort`: records delegations and aborts, feeds
 * progress to watchers, and runs each turn from a script a test chooses.
 */
export class FakeNubabel implements NubabelPort {
  readonly delegations: DelegateTurn[] = [];
  readonly aborts: Array<{ organizationId: string; sessionId: string }> = [];
  private readonly watchers = new Map<string, Set<(event: ProgressEvent) => void>>();
  private readonly running = new Map<string, () => void>();
  script: TurnScript = async (turn, { emit }) => {
    emit(event({ type: "status", data: { status: "busy" } }));
    emit(event({ type: "tool_started", data: { tool: "nubabel_mcp_invoke", callId: "c1", input: { provider: "notion", toolName: "search" } } }));
    // Longer than the harness's update interval, so the tool shows before the answer replaces it.
    await new Promise((r) => setTimeout(r, 300));
    return response(turn, `Answer to **${turn.prompt}**`);
  };

  async delegate(turn: DelegateTurn): Promise<DelegateResponse> {
    this.delegations.push(turn);
    let abort!: () => void;
    const aborted = new Promise<void>((resolve) => (abort = resolve));
    this.running.set(turn.sessionId, abort);
    try {
      return await this.script(turn, { emit: (e) => this.emit(turn.sessionId, e), aborted });
    } finally {
      this.running.delete(turn.sessionId);
    }
  }

  async abort(input: { organizationId: string; sessionId: string }): Promise<boolean> {
    this.aborts.push(input);
    const abort = this.running.get(input.sessionId);
    abort?.();
    return Boolean(abort);
  }

  async watchProgress(sessionId: string, onEvent: (event: ProgressEvent) => void): Promise<() => Promise<void>> {
    const set = this.watchers.get(sessionId) ?? new Set();
    set.add(onEvent);
    this.watchers.set(sessionId, set);
    return async () => void set.delete(onEvent);
  }

  emit(sessionId: string, e: ProgressEvent): void {
    for (const watcher of this.watchers.get(sessionId) ?? []) watcher(e);
  }
}

export function event(e: Omit<ProgressEvent, "timestamp">): ProgressEvent {
  return { ...e, timestamp: new Date().toISOString() } as ProgressEvent;
}

export function response(turn: DelegateTurn, output: string, status: DelegateResponse["status"] = "success"): DelegateResponse {
  return { output, status, metadata: { model: "scripted", opencodeSessionId: `oc_${turn.sessionId}`, nubabelSessionId: turn.sessionId } };
}
