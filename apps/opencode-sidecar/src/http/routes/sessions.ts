import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { type AbortResponse, DelegateRequest, type DelegateResponse, PromptRequest, type RunAccepted, SessionParams } from "@nubabel/contracts";
import { toResponse } from "../../runs/run.js";
import type { RunHandle, Runner } from "../../runs/runner.js";
import { preferences } from "../prefer.js";
import { checkCallbackOrigins, parse } from "../validate.js";

export interface SessionRouteDeps {
  runner: Runner;
  callbackOrigin: string;
  /** The default model, named in an answer when the run recorded none. */
  model: string | null;
}

/** Nubabel's endpoints on the sidecar (signed; the signature check wraps this plugin). */
export function sessionRoutes(deps: SessionRouteDeps): FastifyPluginAsync {
  /**
   * `Prefer: respond-async` → 202 with the run at once (the turn goes on); otherwise the caller
   * waits for the answer, the seed's synchronous contract.
   */
  const answer = async (req: FastifyRequest, reply: FastifyReply, run: Promise<RunHandle>): Promise<RunAccepted | DelegateResponse> => {
    const respondAsync = preferences(req.headers.prefer).has("respond-async");
    const { accepted, finished } = await run;
    if (respondAsync) {
      void reply.status(202).header("preference-applied", "respond-async").header("location", `/runs/${accepted.runId}`);
      return accepted;
    }
    return toResponse(await finished, deps.model ?? "unknown");
  };

  return async (app) => {
    app.post("/delegate", async (req, reply) => {
      const body = parse(DelegateRequest, req.body);
      checkCallbackOrigins(body.callbacks, deps.callbackOrigin);
      return answer(req, reply, deps.runner.delegate(body));
    });

    app.post("/sessions/:opencodeSessionId/prompt", async (req, reply) => {
      const { opencodeSessionId } = parse(SessionParams, req.params);
      const body = parse(PromptRequest, req.body);
      checkCallbackOrigins(body.callbacks, deps.callbackOrigin);
      return answer(req, reply, deps.runner.followUp(opencodeSessionId, body));
    });

    app.post("/sessions/:opencodeSessionId/abort", async (req): Promise<AbortResponse> => {
      const { opencodeSessionId } = parse(SessionParams, req.params);
      return { opencodeSessionId, aborted: await deps.runner.abort(opencodeSessionId) };
    });
  };
}
