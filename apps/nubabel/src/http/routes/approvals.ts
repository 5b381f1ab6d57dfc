import type { FastifyInstance } from "fastify";
import { ApprovalDecision, ApprovalParams, ApprovalPolicy, type ApiPolicy, type Approval } from "@nubabel/contracts";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse } from "../errors.js";

/** The organization's approval policy and the decisions on its runs' tool calls, by API key. */
export function approvalRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get("/api/policy", async (request): Promise<ApiPolicy> => {
    const org = await authorizeApiKey(deps, request);
    return deps.approvals.policy(org.id);
  });

  // Each PUT is a new version; runs already going keep the rules they started with.
  app.put("/api/policy", async (request): Promise<ApiPolicy> => {
    const org = await authorizeApiKey(deps, request);
    const policy = parse(ApprovalPolicy, request.body);
    return deps.approvals.setPolicy(org.id, policy);
  });

  app.post("/api/runs/:runId/approvals/:approvalId", async (request): Promise<Approval> => {
    const org = await authorizeApiKey(deps, request);
    const { runId, approvalId } = parse(ApprovalParams, request.params, "path");
    const decision = parse(ApprovalDecision, request.body);
    return deps.approvals.decide(org.id, runId, approvalId, decision, { kind: "api" });
  });
}
