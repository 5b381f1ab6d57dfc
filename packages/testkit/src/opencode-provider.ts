import { DEFAULT_MODEL_ID } from "./model-server.js";

/**
 * The OpenCode config pieces that point the engine at a ModelServer: merge `provider` into the
 * config's `provider` and use `model` as both `model` and `small_model` (so title generation hits
 * the server too instead of a real provider).
 */
export function opencodeProvider(
  url: string,
  opts: { providerId?: string; modelId?: string } = {},
): { provider: Record<string, unknown>; model: string } {
  const providerId = opts.providerId ?? "testkit";
  const modelId = opts.modelId ?? DEFAULT_MODEL_ID;
  return {
    provider: {
      [providerId]: {
        // Bundled in the engine, so nothing is installed at run time.
        npm: "@ai-sdk/openai-compatible",
        name: "Testkit",
        options: { baseURL: url },
        models: { [modelId]: { name: "Scripted", tool_call: true } },
      },
    },
    model: `${providerId}/${modelId}`,
  };
}
