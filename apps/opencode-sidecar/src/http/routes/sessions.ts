import type { FastifyPluginAsync } from "fastify";
import { type AbortResponse, DelegateRequest, PromptRequest, SessionParams } from "@nubabel/contracts";
import type { Runner } from "../../runs/runner.js";
import { checkCallbackOrigins, parse } from "../validate.js";

export interface SessionRouteDeps {
  runner: Runner;
  callbackOrigin: string;
}

/** Nubabel's endpoints on the sidecar (signed; the signature check wraps this plugin). */
export function sessionRoutes(deps: SessionRouteDeps): FastifyPluginAsync {
  return async (app) => {
    app.post("/delegate", async (req) => {
      const body = parse(DelegateRequest, req.body);
      checkCallbackOrigins(body.callbacks, deps.callbackOrigin);
      return deps.runner.delegate(body);
    });

    app.post("/sessions/:opencodeSessionId/prompt", async (req) => {
      const { opencodeSessionId } = parse(SessionParams, req.params);
      const body = parse(PromptRequest, req.body);
      checkCallbackOrigins(body.callbacks, deps.callbackOrigin);
      return deps.runner.followUp(opencodeSessionId, body);
    });

    app.post("/sessions/:opencodeSessionId/abort", async (req): Promise<AbortResponse> => {
      const { opencodeSessionId } = parse(SessionParams, req.params);
      return { opencodeSessionId, aborted: await deps.runner.abort(opencodeSessionId) };
    });
  };
}
