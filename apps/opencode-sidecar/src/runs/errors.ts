/** A session the engine does not know (404). */
export class SessionNotFoundError extends Error {
  override readonly name = "SessionNotFoundError";
}

/** Too many prompts already waiting for one session (429). */
export class QueueFullError extends Error {
  override readonly name = "QueueFullError";
}

/** No model is configured, so nothing can run (503). */
export class NoModelError extends Error {
  override readonly name = "NoModelError";
  constructor() {
    super(
      "no model is configured: set MODEL_BASE_URL and MODEL_NAME (any OpenAI-compatible endpoint, plus MODEL_API_KEY if it needs one), or ANTHROPIC_API_KEY, or name an OpenCode config file with a model in OPENCODE_CONFIG",
    );
  }
}

/** No run with this id here (never, or lapsed). */
export class RunNotFoundError extends Error {
  override readonly name = "RunNotFoundError";
}

/** The sidecar is shutting down, or drained for a deploy, and takes no new runs (503 `draining`). */
export class DrainingError extends Error {
  override readonly name = "DrainingError";
  constructor(why: string) {
    super(`${why} and accepts no new runs; send it to another sidecar or try again shortly`);
  }
}

/**
 * The engine runs without the nubabel-bridge plugin in a workspace (it drops a plugin that fails to
 * load, silently): without it the agent's file tools are not confined, so nothing runs there (503).
 */
export class PluginMissingError extends Error {
  override readonly name = "PluginMissingError";
  constructor(directory: string) {
    super(`the engine did not load the nubabel-bridge plugin for ${directory}, so its tools are not confined; no run starts there (see the engine's log)`);
  }
}
