import { McpInvokeResponse, McpListResponse } from "@nubabel/contracts";
import { Tracing } from "@nubabel/telemetry";
import { type Binding, type BindingStore, boundAncestor } from "../bindings/binding.js";
import { CallbackRejectedError, type CallbackClient } from "../callbacks/client.js";
import type { EngineDriver } from "../engine/driver.js";

/** A tool call the sidecar cannot route: no delegation is bound to the session (or its parents). */
export class BridgeError extends Error {
  override readonly name = "BridgeError";
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

/**
 * The sidecar's half of `nubabel_mcp_invoke` / `nubabel_mcp_list`. The plugin, inside the engine,
 * only knows the OpenCode session id; the organization, callback URL and capability token come
 * from the binding here, never from the agent's arguments.
 */
export class Bridge {
  constructor(
    private readonly bindings: BindingStore,
    private readonly driver: EngineDriver,
    private readonly callbacks: CallbackClient,
    private readonly timeoutMs: number,
    /** The trace of the turn running in a bound session: the plugin's request carries none. */
    private readonly traceOf: (opencodeSessionId: string) => Tracing.Context | undefined = () => undefined,
  ) {}

  async invoke(sessionId: string, callId: string, call: { provider: string; toolName: string; args: Record<string, unknown> }): Promise<McpInvokeResponse> {
    const binding = await this.resolve(sessionId, callId);
    const body = { organizationId: binding.organizationId, provider: call.provider, toolName: call.toolName, args: call.args };
    const parent = this.traceOf(binding.opencodeSessionId);
    const attributes = { "mcp.provider": call.provider, "mcp.tool.name": call.toolName, "opencode.session.id": sessionId };
    const options = { tracer: "sidecar.bridge", kind: Tracing.SpanKind.CLIENT, attributes, ...(parent ? { parent } : {}) };
    // No retries: a tool call is not idempotent, and a retry after a timeout could run it twice.
    const answer = await Tracing.inSpan("bridge mcp invoke", options, () => this.post(binding, binding.callbacks!.mcpInvoke, body));
    return McpInvokeResponse.parse(answer);
  }

  async list(sessionId: string, callId: string, filter: { provider?: string; tool?: string }): Promise<McpListResponse> {
    const binding = await this.resolve(sessionId, callId);
    const url = binding.callbacks!.mcpList ?? binding.callbacks!.mcpInvoke.replace(/\/invoke$/, "/list");
    const answer = await this.post(binding, url, { organizationId: binding.organizationId, ...filter });
    return McpListResponse.parse(answer);
  }

  private async post(binding: Binding, url: string, body: unknown): Promise<unknown> {
    try {
      return await this.callbacks.post(url, body, binding.callbackToken, { timeoutMs: this.timeoutMs, retries: 0 });
    } catch (err) {
      if (err instanceof CallbackRejectedError) throw new BridgeError(err.message, err.status);
      throw new BridgeError(`Nubabel could not run the tool: ${(err as Error).message}`, 502);
    }
  }

  /**
   * The binding of the session, or of the nearest parent (subagent sessions are children). The
   * call must be one the engine is running in that session right now: a request forged from a
   * shell (which could name any session) has no such tool call behind it.
   */
  private async resolve(sessionId: string, callId: string): Promise<Binding> {
    const binding = await boundAncestor(this.bindings, async (id) => (await this.driver.getSession(id))?.parentId, sessionId);
    if (!binding) throw new BridgeError(`session ${sessionId} is not bound to a Nubabel delegation`, 404);
    if (!binding.callbacks) throw new BridgeError("this session was delegated without callbacks, so it has no tools", 400);
    if (!(await this.driver.isToolCallRunning(sessionId, binding.directory, callId))) {
      throw new BridgeError(`no tool call ${callId} is running in session ${sessionId}`, 403);
    }
    return binding;
  }
}
