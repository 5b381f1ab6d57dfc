import { LRUCache } from "lru-cache";
import { EngineDownError } from "../engine/engine.js";
import type { ApprovalRequirements, PermissionAsked, PermissionReply } from "@nubabel/contracts";
import type { PermissionAsk } from "../engine/events.js";
import type { Logger } from "../logger.js";
import { covers, engineToolName, type GatedCall, namesOfPermission } from "./match.js";
import { redactArguments } from "./redact.js";

/** The engine as the gate needs it (the driver implements it). */
export interface PermissionEngine {
  /** False when the engine no longer waits on that request. */
  replyPermission(requestId: string, directory: string, reply: "once" | "reject", message?: string): Promise<boolean>;
  toolCall(sessionId: string, directory: string, callId: string): Promise<{ tool: string; input: Record<string, unknown> } | undefined>;
  pendingPermissions(directory: string): Promise<PermissionAsk[]>;
}

/** The run an ask belongs to: what it must ask about, and its progress path. */
export interface GatedRun {
  runId: string;
  approvals?: ApprovalRequirements;
  /** Sends the event in order with the run's other progress. */
  report(asked: PermissionAsked): void;
}

export type AskOutcome = "allowed" | "asked" | "refused";

export interface PermissionGateDeps {
  engine: PermissionEngine;
  /**
   * The run running in the session bound to `sessionId` or to its nearest bound parent (a
   * subagent's session is a child); "unbound" when no delegation is bound to any of them.
   */
  runOf(sessionId: string): Promise<GatedRun | "unbound" | undefined>;
  /** The workspaces where runs are running now: where asks may wait unseen after a reconnect. */
  directories(): string[];
  /** The permissions the engine is configured to ask (the others are refused). */
  gated: ReadonlySet<string>;
  observe?(outcome: AskOutcome): void;
  log: Logger;
}

/** An ask waiting for Nubabel's decision, and the timer that refuses it if none comes. */
interface Pending {
  requestId: string;
  directory: string;
  runId: string;
  timer: NodeJS.Timeout;
  /** A decision is on its way to the engine: a second one for the same ask is not sent. */
  replying?: boolean;
}

/** What the agent reads when Nubabel denies without saying why: a message keeps the turn going. */
const DENIED = "denied: a person refused this tool call";

/**
 * Answers the engine's permission asks. An ask a run's approvals cover waits for a person:
 * it is reported as `permission_asked`, held until Nubabel's decision (`reply`) or the run's
 * `timeoutMs`, then answered. Every other ask is answered at once: allowed when a running
 * run is behind it, refused (as before approvals existed) when nothing is.
 * Lifecycle of an ask: `new` → `pending` (covered) → answered, or `new` → answered.
 */
export class PermissionGate {
  private readonly pending = new Map<string, Pending>();
  /** Asks already taken in hand (an event and a listing after a reconnect may name the same one). */
  private readonly seen = new LRUCache<string, true>({ max: 10_000 });

  constructor(private readonly deps: PermissionGateDeps) {}

  /** Takes one engine ask in hand; never rejects. */
  async handle(ask: PermissionAsk): Promise<void> {
    if (this.seen.has(ask.requestId)) return;
    this.seen.set(ask.requestId, true);
    try {
      await this.decide(ask);
    } catch (err) {
      // Undecided is not allowed: the engine would wait on it until the run times out (a slow read
      // of the session behind it, say). Refused, the turn goes on.
      const message = (err as Error).message;
      this.deps.log.warn({ requestId: ask.requestId, err: message }, "permission ask could not be decided; refused");
      this.take(ask.requestId);
      await this.answer(ask.requestId, ask.directory, "reject", `"${ask.permission}" could not be checked: ${message}`);
    }
  }

  /**
   * Nubabel's decision for a pending ask of `runId`; false when there is none (unknown, already
   * answered, timed out, another run's, or the engine no longer waits on it).
   */
  async reply(runId: string, requestId: string, decision: PermissionReply): Promise<boolean> {
    const pending = this.pending.get(requestId);
    if (!pending || pending.runId !== runId || pending.replying) return false;
    pending.replying = true;
    const message = decision.reply === "reject" ? (decision.message ?? DENIED) : undefined;
    let replied: boolean;
    try {
      replied = await this.deps.engine.replyPermission(requestId, pending.directory, decision.reply, message);
    } catch (err) {
      // Not delivered: the ask stays pending (its timer still runs). An engine that did not answer
      // is said as such (503), so Nubabel sends the decision again rather than dropping it.
      pending.replying = false;
      this.deps.log.warn({ runId, requestId, err: (err as Error).message }, "permission reply not delivered to the engine");
      if (err instanceof EngineDownError) throw err;
      return false;
    }
    this.take(requestId);
    return replied;
  }

  /** A run ended (or was aborted): its asks are refused and forgotten. */
  forgetRun(runId: string): void {
    for (const pending of [...this.pending.values()]) {
      if (pending.runId !== runId) continue;
      this.take(pending.requestId);
      void this.answer(pending.requestId, pending.directory, "reject", "denied: the run ended");
    }
  }

  /** After the event stream reconnected: asks made while it was down are handled now (best effort). */
  async resync(): Promise<void> {
    for (const directory of new Set(this.deps.directories())) {
      try {
        for (const ask of await this.deps.engine.pendingPermissions(directory)) await this.handle(ask);
      } catch (err) {
        this.deps.log.warn({ directory, err: (err as Error).message }, "pending permission asks not listed");
      }
    }
  }

  /** Asks waiting for a person now (tests, shutdown). */
  get waiting(): number {
    return this.pending.size;
  }

  private async decide(ask: PermissionAsk): Promise<void> {
    const run = this.deps.gated.has(ask.permission) ? await this.deps.runOf(ask.sessionId) : undefined;
    if (!run || run === "unbound") {
      this.deps.observe?.("refused");
      await this.answer(ask.requestId, ask.directory, "reject", `"${ask.permission}" is not allowed in a Nubabel session`);
      return;
    }
    const asked = run.approvals?.match.length ? await this.describe(ask) : undefined;
    if (!run.approvals || !asked || !covers(run.approvals.match, asked.call)) {
      this.deps.observe?.("allowed");
      await this.answer(ask.requestId, ask.directory, "once");
      return;
    }
    this.deps.observe?.("asked");
    const { timeoutMs } = run.approvals;
    const timer = setTimeout(() => {
      if (!this.take(ask.requestId)) return;
      void this.answer(ask.requestId, ask.directory, "reject", `denied: nobody answered within ${Math.round(timeoutMs / 1000)} seconds`);
    }, timeoutMs);
    timer.unref();
    this.pending.set(ask.requestId, { requestId: ask.requestId, directory: ask.directory, runId: run.runId, timer });
    run.report(asked.event);
  }

  /** What the ask is about: the call as rules see it, and the event a person is shown. */
  private async describe(ask: PermissionAsk): Promise<{ call: GatedCall; event: PermissionAsked }> {
    const callId = ask.callId ? { callId: ask.callId } : {};
    if (ask.permission === "nubabel_mcp") {
      const meta = ask.metadata;
      const [patternProvider = "", patternTool = ""] = (ask.patterns[0] ?? "").split("/");
      const provider = typeof meta.provider === "string" ? meta.provider : patternProvider;
      const tool = typeof meta.toolName === "string" ? meta.toolName : patternTool;
      return {
        call: { kind: "mcp", provider, tool },
        event: { requestId: ask.requestId, tool: tool || "nubabel_mcp_invoke", ...(provider ? { provider } : {}), arguments: redactArguments(meta.args ?? {}), ...callId },
      };
    }
    const found = ask.callId ? await this.deps.engine.toolCall(ask.sessionId, ask.directory, ask.callId).catch(() => undefined) : undefined;
    const name = found ? engineToolName(found.tool) : undefined;
    const input = found ? found.input : { ...ask.metadata, patterns: ask.patterns };
    return {
      call: { kind: "engine", names: name ? [name] : namesOfPermission(ask.permission) },
      event: { requestId: ask.requestId, tool: found?.tool ?? ask.permission, arguments: redactArguments(input), ...callId },
    };
  }

  /** Removes a pending ask; false when it was not (or no longer) pending. */
  private take(requestId: string): boolean {
    const pending = this.pending.get(requestId);
    if (!pending) return false;
    clearTimeout(pending.timer);
    this.pending.delete(requestId);
    return true;
  }

  private async answer(requestId: string, directory: string, reply: "once" | "reject", message?: string): Promise<void> {
    await this.deps.engine.replyPermission(requestId, directory, reply, message).catch((err: Error) => {
      this.deps.log.warn({ requestId, reply, err: err.message }, "permission reply not delivered to the engine");
    });
  }
}
