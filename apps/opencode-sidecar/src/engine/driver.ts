import { createOpencodeClient, type Event, type OpencodeClient } from "@opencode-ai/sdk/v2";
import { LRUCache } from "lru-cache";
import { Http, type Usage } from "@nubabel/contracts";
import type { Logger } from "../logger.js";
import { type Engine, EngineDownError, type EngineEndpoint, EngineTimeoutError } from "./engine.js";
import { errorInfo, toEngineEvent, toPermissionAsk } from "./translate.js";
import { stepOf, turnResult } from "./turn-result.js";
import type { EngineEvent, PermissionAsk, TurnResult } from "./events.js";
import { addStep, emptyUsage } from "./usage.js";

/** A bound on the sessions read for a run's subagent usage: a runaway tree of subagents must not stall a turn's end. */
const MAX_SUBAGENT_SESSIONS = 50;
/** Messages read from each subagent session (its latest); a subagent of more steps is undercounted. */
const SUBAGENT_MESSAGE_LIMIT = 200;

export interface PromptInput {
  sessionId: string;
  directory: string;
  text: string;
  /** Sent before `text` in the same message: what the model should know first (a restored conversation). */
  context?: string;
  system?: string;
  agent?: string;
  /** `provider/model`. */
  model?: string;
}

/**
 * The only module that speaks the OpenCode SDK. It follows the engine's global event stream
 * (one for every workspace folder), turns it into `EngineEvent`s, and exposes the few calls a
 * run needs. After every (re)connection it emits `resync`, since events in a gap are lost.
 */
export class EngineDriver {
  private client: OpencodeClient | undefined;
  private listeners = new Set<(event: EngineEvent) => void>();
  private readonly bySession = new Map<string, Set<(event: EngineEvent) => void>>();
  /** Subagent sessions (child → parent, and the child's title), so a run sees its subagents' tools. */
  private readonly parents = new LRUCache<string, { parentId: string; title: string }>({ max: 10_000 });
  /** Sessions the event stream showed a subagent session under: only theirs are searched for subagent usage. */
  private readonly withSubagents = new LRUCache<string, true>({ max: 10_000 });
  private streamAbort: AbortController | undefined;

  constructor(
    private readonly engine: Engine,
    private readonly log: Logger,
    private readonly requestTimeoutMs: number,
  ) {
    engine.on("up", (endpoint: EngineEndpoint) => this.connect(endpoint));
    engine.on("down", () => this.disconnect());
  }

  onEvent(listener: (event: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Events of one session (and every `resync`). Routed by session id, so a burst of concurrent
   * turns costs each event one lookup rather than a call to every turn's listener.
   */
  onSessionEvent(sessionId: string, listener: (event: EngineEvent) => void): () => void {
    let set = this.bySession.get(sessionId);
    if (!set) this.bySession.set(sessionId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (!set.size && this.bySession.get(sessionId) === set) this.bySession.delete(sessionId);
    };
  }

  /** Connects to the engine if it is already up (events after this also reconnect). */
  init(): void {
    const endpoint = this.engine.endpoint();
    if (endpoint) this.connect(endpoint);
  }

  close(): void {
    this.disconnect();
  }

  async createSession(input: { directory: string; title: string; metadata: Record<string, unknown> }): Promise<string> {
    const res = await this.call((api, signal) =>
      api.session.create({ directory: input.directory, title: input.title, metadata: input.metadata }, { throwOnError: true, signal }),
    );
    return res.data.id;
  }

  /** The ids of the tools the engine offers in `directory` (built-in and plugins'). */
  async toolIds(directory: string): Promise<string[]> {
    const res = await this.call((api, signal) => api.tool.ids({ directory }, { throwOnError: true, signal }));
    return res.data;
  }

  /** Unloads the engine's instance for `directory` (it comes back when next used). */
  async disposeInstance(directory: string): Promise<void> {
    await this.call((api, signal) => api.instance.dispose({ directory }, { throwOnError: true, signal }));
  }

  /** Resolves when the engine answers its health call within `signal`'s bound (the watchdog's probe). */
  async alive(signal: AbortSignal): Promise<void> {
    await this.api().global.health({ throwOnError: true, signal });
  }

  /** The names of the agents the engine offers (in `directory`, or its own folder). */
  async agentNames(directory?: string): Promise<string[]> {
    const res = await this.call((api, signal) => api.app.agents(directory ? { directory } : {}, { throwOnError: true, signal }));
    return res.data.map((agent) => agent.name);
  }

  /** The session's folder and parent, or undefined when the engine does not know it. */
  async getSession(sessionId: string, directory?: string): Promise<{ directory: string; parentId?: string } | undefined> {
    const res = await this.call(async (api, signal) => {
      const answer = await api.session.get({ sessionID: sessionId, ...(directory ? { directory } : {}) }, { signal });
      // No answer at all (a timeout, a network error) says nothing of the session.
      if (!answer.response) throw answer.error;
      return answer;
    });
    if (!res.data) {
      if (res.response && res.response.status >= 500) throw new Error(`engine answered ${res.response.status}`);
      return undefined;
    }
    return { directory: res.data.directory, ...(res.data.parentID ? { parentId: res.data.parentID } : {}) };
  }

  /** Starts a turn and returns at once (the engine answers 204); the turn is followed through events. */
  async prompt(input: PromptInput): Promise<void> {
    const [providerID, ...rest] = input.model ? input.model.split("/") : [];
    await this.call((api, signal) =>
      api.session.promptAsync(
        {
          sessionID: input.sessionId,
          directory: input.directory,
          parts: [...(input.context ? [{ type: "text" as const, text: input.context }] : []), { type: "text", text: input.text }],
          ...(input.system ? { system: input.system } : {}),
          ...(input.agent ? { agent: input.agent } : {}),
          ...(providerID && rest.length ? { model: { providerID, modelID: rest.join("/") } } : {}),
        },
        { throwOnError: true, signal },
      ),
    );
  }

  async abort(sessionId: string, directory: string): Promise<void> {
    await this.call((api, signal) => api.session.abort({ sessionID: sessionId, directory }, { throwOnError: true, signal }));
  }

  /** Whether the engine is working on the session right now. */
  async isBusy(sessionId: string, directory: string): Promise<boolean> {
    const res = await this.call((api, signal) => api.session.status({ directory }, { throwOnError: true, signal }));
    const status = (res.data as Record<string, { type: string }>)[sessionId];
    return status !== undefined && status.type !== "idle";
  }

  /**
   * The last assistant answer of the session, read from the engine's store, with the usage of its
   * turn: every assistant message answering the same user message (one per model step). Its
   * subagents' steps are not in it: see `subagentUsage`.
   */
  async lastResult(sessionId: string, directory: string): Promise<TurnResult | undefined> {
    const res = await this.call((api, signal) => api.session.messages({ sessionID: sessionId, directory, limit: 100 }, { throwOnError: true, signal }));
    const last = [...res.data].reverse().find((m) => m.info.role === "assistant");
    if (!last || last.info.role !== "assistant") return undefined;
    const { info } = last;
    const steps = res.data.flatMap((m) => (m.info.role === "assistant" ? [stepOf(m.info)] : []));
    const promptedAt = res.data.find((m) => m.info.id === info.parentID)?.info.time.created;
    const text = last.parts
      .flatMap((p) => (p.type === "text" && !p.synthetic && !p.ignored ? [p.text] : []))
      .join("")
      .trim();
    return turnResult(stepOf(info), steps, promptedAt, text, info.error ? errorInfo(info.error) : undefined);
  }

  /**
   * The usage of the subagents working for `sessionId` since `since` (the engine's clock): every
   * descendant session (child, grandchild, …) active since then, and in each the model steps
   * begun since then (a subagent session resumed by a later turn counts only its new steps). At
   * most `MAX_SUBAGENT_SESSIONS` are read; one that cannot be read is logged and left out, since
   * an undercount is better than a run that fails after its work is done.
   */
  async subagentUsage(sessionId: string, directory: string, since: number): Promise<Usage> {
    // Most turns start no subagent: they cost no engine call here (a child session's creation
    // reaches the event stream before the turn that made it ends).
    if (!this.withSubagents.has(sessionId)) return emptyUsage();
    const found: string[] = [];
    let level = [sessionId];
    // Level by level, each level's lists read together: the bound keeps the nearest subagents.
    while (level.length && found.length < MAX_SUBAGENT_SESSIONS) {
      const below = (await Promise.all(level.map((id) => this.children(id, directory)))).flat();
      level = below
        .filter((s) => s.time.updated >= since && s.id !== sessionId && !found.includes(s.id))
        .map((s) => s.id)
        .slice(0, MAX_SUBAGENT_SESSIONS - found.length);
      found.push(...level);
    }
    const usage = emptyUsage();
    await Promise.all(
      found.map(async (id) => {
        try {
          const res = await this.call((api, signal) =>
            api.session.messages({ sessionID: id, directory, limit: SUBAGENT_MESSAGE_LIMIT }, { throwOnError: true, signal }),
          );
          for (const { info } of res.data) if (info.role === "assistant" && info.time.created >= since) addStep(usage, info);
        } catch (err) {
          this.log.warn({ err: (err as Error).message, sessionId, subagentSessionId: id }, "a subagent's usage could not be read; the run's usage leaves it out");
        }
      }),
    );
    return usage;
  }

  /** The sessions directly below `sessionId`; none when they cannot be read (logged). */
  private async children(sessionId: string, directory: string): Promise<Array<{ id: string; time: { updated: number } }>> {
    try {
      const res = await this.call((api, signal) => api.session.children({ sessionID: sessionId, directory }, { throwOnError: true, signal }));
      return res.data;
    } catch (err) {
      this.log.warn({ err: (err as Error).message, sessionId }, "a session's subagents could not be listed; the run's usage leaves them out");
      return [];
    }
  }

  /** Whether the session has a tool call with this id running right now (the bridge's proof of origin). */
  async isToolCallRunning(sessionId: string, directory: string, callId: string): Promise<boolean> {
    const res = await this.call((api, signal) => api.session.messages({ sessionID: sessionId, directory, limit: 4 }, { throwOnError: true, signal }));
    return res.data.some((m) => m.parts.some((p) => p.type === "tool" && p.callID === callId && p.state.status === "running"));
  }

  /**
   * Answers a permission request: `once` lets that call run, `reject` fails it (the agent reads
   * `message` as the tool's error, and the turn goes on). False when the engine no longer waits on it.
   */
  async replyPermission(requestId: string, directory: string, reply: "once" | "reject", message?: string): Promise<boolean> {
    const res = await this.call(async (api, signal) => {
      const answer = await api.permission.reply({ requestID: requestId, directory, reply, ...(message !== undefined ? { message } : {}) }, { signal });
      // No answer at all (a timeout, a network error) does not mean the engine stopped waiting.
      if (!answer.response) throw answer.error;
      return answer;
    });
    if (res.response && res.response.status >= 500) throw new Error(`engine answered ${res.response.status}`);
    return res.response?.ok === true && res.data !== false;
  }

  /** The permission requests the engine's instance for `directory` is waiting on (asked while we were not listening). */
  async pendingPermissions(directory: string): Promise<PermissionAsk[]> {
    const res = await this.call((api, signal) => api.permission.list({ directory }, { throwOnError: true, signal }));
    return (res.data ?? []).map((request) => toPermissionAsk(request, directory));
  }

  /** A tool call of the session by its id: the tool's name and the input the model gave it. */
  async toolCall(sessionId: string, directory: string, callId: string): Promise<{ tool: string; input: Record<string, unknown> } | undefined> {
    const res = await this.call((api, signal) => api.session.messages({ sessionID: sessionId, directory, limit: 4 }, { throwOnError: true, signal }));
    for (const message of [...res.data].reverse()) {
      const part = message.parts.find((p) => p.type === "tool" && p.callID === callId);
      if (part?.type === "tool") return { tool: part.tool, input: part.state.input ?? {} };
    }
    return undefined;
  }

  async rejectQuestion(requestId: string, directory: string): Promise<void> {
    await this.call((api, signal) => api.question.reject({ requestID: requestId, directory }, { signal }));
  }

  private api(): OpencodeClient {
    if (!this.client) throw new EngineDownError("the OpenCode engine is not running");
    return this.client;
  }

  /** One call to the engine, bounded by `ENGINE_REQUEST_TIMEOUT_MS`; running out of it is an `EngineTimeoutError`. */
  private async call<T>(fn: (api: OpencodeClient, signal: AbortSignal) => Promise<T>): Promise<T> {
    const api = this.api();
    try {
      return await fn(api, AbortSignal.timeout(this.requestTimeoutMs));
    } catch (err) {
      // The signal's reason, from the request or from reading its answer.
      if (err instanceof Error && err.name === "TimeoutError") {
        throw new EngineTimeoutError(`the engine did not answer within ${this.requestTimeoutMs} ms (ENGINE_REQUEST_TIMEOUT_MS)`);
      }
      // No answer at all (refused, reset: an engine restarting): as unavailable as a stopped one.
      const code = Http.errorCode(err);
      if (NETWORK.has(code)) throw new EngineDownError(`the engine could not be reached (${code}); try again shortly`);
      throw err;
    }
  }

  private connect(endpoint: EngineEndpoint): void {
    this.disconnect();
    // The engine gzips answers over 1 KiB (a turn's messages, say) when asked to; on the same
    // machine that costs CPU twice, the engine's included, and saves nothing.
    const headers: Record<string, string> = { "accept-encoding": "identity" };
    if (endpoint.password) {
      headers.authorization = `Basic ${Buffer.from(`opencode:${endpoint.password}`).toString("base64")}`;
    }
    // undici's request under the SDK: the global fetch costs about twice the CPU a call.
    this.client = createOpencodeClient({ baseUrl: endpoint.url, headers, fetch: Http.fetchVia });
    const abort = new AbortController();
    this.streamAbort = abort;
    void this.follow(this.client, abort.signal);
  }

  private disconnect(): void {
    this.streamAbort?.abort();
    this.streamAbort = undefined;
    this.client = undefined;
  }

  private async follow(client: OpencodeClient, signal: AbortSignal): Promise<void> {
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const { stream } = await client.global.event({ signal, sseMaxRetryAttempts: 1 });
        for await (const raw of stream) {
          attempt = 0;
          const { payload, directory } = raw as { directory?: string; payload?: Event };
          if (!payload) continue;
          if (payload.type === "server.connected") {
            this.emit({ type: "resync" });
            continue;
          }
          const event = toEngineEvent(payload, directory ?? "");
          if (event) this.emit(event);
        }
      } catch (err) {
        if (signal.aborted) return;
        this.log.warn({ err: (err as Error).message }, "engine event stream broke; reconnecting");
      }
      if (signal.aborted) return;
      attempt += 1;
      await new Promise((r) => setTimeout(r, Math.min(100 * 2 ** attempt, 2_000)));
    }
  }

  /** The nearest ancestor of `sessionId` a run follows, named by the subagent below it. */
  private ancestorOf(sessionId: string): { sessionId: string; title: string } | undefined {
    let child = sessionId;
    for (let depth = 0; depth < 8; depth++) {
      const up = this.parents.get(child);
      if (!up) return undefined;
      if (this.bySession.has(up.parentId)) return { sessionId: up.parentId, title: up.title };
      child = up.parentId;
    }
    return undefined;
  }

  private emit(event: EngineEvent): void {
    if (event.type === "session" && event.parentId) {
      this.parents.set(event.sessionId, { parentId: event.parentId, title: event.title });
      this.withSubagents.set(event.parentId, true);
    }
    if (event.type === "tool" && !this.bySession.has(event.sessionId)) {
      const followed = this.ancestorOf(event.sessionId);
      if (followed) this.emit({ type: "subagent", sessionId: followed.sessionId, subagent: followed.title, event });
    }
    const sessionListeners = "sessionId" in event ? this.bySession.get(event.sessionId) : undefined;
    const all = event.type === "resync" ? [...this.bySession.values()].flatMap((set) => [...set]) : [];
    for (const listener of [...this.listeners, ...(sessionListeners ?? []), ...all]) {
      try {
        listener(event);
      } catch (err) {
        this.log.error({ err }, "engine event listener failed");
      }
    }
  }
}

/** Errors of a connection that got no answer, as Node and undici name them. */
const NETWORK = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]);
