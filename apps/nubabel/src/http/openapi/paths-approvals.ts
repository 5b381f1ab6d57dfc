import { ApiPolicy, Approval, ApprovalDecision, ApprovalParams, ApprovalPolicy, ErrorBody } from "@nubabel/contracts";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import * as Example from "./examples.js";
import { answer, Auth, body, errors, notFound } from "./responses.js";

/** `/api/policy` and the decision on a run's approval. */
export const approvalPaths: ZodOpenApiPathsObject = {
  "/api/policy": {
    get: {
      tags: ["approvals"],
      operationId: "getPolicy",
      summary: "The organization's approval policy",
      description: "Which tool calls wait for a person, who may decide, and how long an approval waits (`timeoutSeconds`, default 600). Version 0 is the default policy, which asks for nothing.",
      security: Auth.apiKey,
      responses: { 200: answer("The policy in force.", ApiPolicy, Example.policy), ...errors([401, 429, 503]) },
    },
    put: {
      tags: ["approvals"],
      operationId: "setPolicy",
      summary: "Replace the approval policy",
      description:
        "`match` is an MCP `provider/tool` glob (`notion/*create*`, `github/*`; the provider is a connection's name or its provider) or an engine tool (`bash`, `edit`, `write`, `webfetch`). `approvers`: `requester` (default), `workspace` (anyone in the linked Slack workspace) or Slack user ids; the organization's API key may decide any. The first matching rule decides who approves. Each PUT is a new version, kept; runs already started keep the rules they started with.",
      security: Auth.apiKey,
      requestBody: body(ApprovalPolicy, { approvals: Example.policy.approvals, timeoutSeconds: 600 }),
      responses: { 200: answer("The new policy.", ApiPolicy, Example.policy), ...errors([400, 401, 429, 503]) },
    },
  },
  "/api/runs/{runId}/approvals/{approvalId}": {
    post: {
      tags: ["approvals"],
      operationId: "decideApproval",
      summary: "Approve or deny a tool call the run waits on",
      description:
        "Approved, the tool runs; denied, the agent gets a tool error saying who denied it and why, and carries on. Another organization's approval is 404; one already decided (or expired) is 409.",
      security: Auth.apiKey,
      requestParams: { path: ApprovalParams },
      requestBody: body(ApprovalDecision, { decision: "approve", reason: "looks right" }),
      responses: {
        200: answer("The approval as decided.", Approval, Example.approval),
        ...errors([400, 401, 429, 503], {
          ...notFound("approval_not_found", `approval ${Example.APPROVAL_ID} not found`),
        }),
        409: answer("Already decided or expired (`approval_decided`).", ErrorBody, {
          error: { code: "approval_decided", message: `approval ${Example.APPROVAL_ID} is already approved (by api)` },
        }),
      },
    },
  },
};
