import { ApiBudget, BudgetSettings, ErrorBody, UsageQuery, UsageReport } from "@nubabel/contracts";
import type { ZodOpenApiPathsObject, ZodOpenApiResponsesObject } from "zod-openapi";
import * as Example from "./examples.js";
import { answer, Auth, body, errors } from "./responses.js";

/** The 402 of a submission past the budget: the budget, the spend, and when it resets. */
export const budgetExceeded: ZodOpenApiResponsesObject = {
  402: answer(
    "The organization reached its monthly budget (`budget_exceeded`): nothing was stored or run. It takes runs again when the month turns (`details.resetsAt`) or once the budget is raised (`PUT /api/budget`).",
    ErrorBody,
    {
      error: {
        code: "budget_exceeded",
        message:
          "this organization reached its monthly budget (spent cost 50.02 of 50.00 USD); new runs are refused until 2026-12-01T00:00:00.000Z or until the budget is raised",
        details: { budget: { monthlyCost: 50 }, spent: { cost: 50.02, tokens: 11_380_512 }, resetsAt: "2026-12-01T00:00:00.000Z" },
      },
    },
  ),
};

const MONTH = [
  "A month is a calendar month in UTC, and a run counts in the month (and on the day) it **finished**: its usage is known only then.",
  "The budget is checked when a run is submitted: a run already running, or one queued before the cap was reached, is allowed to finish, so the month's spend may pass the cap by what those use. Tokens count input + output.",
].join("\n\n");

/** `/api/usage` and `/api/budget`: what the organization spends, and its monthly cap. */
export const usagePaths: ZodOpenApiPathsObject = {
  "/api/usage": {
    get: {
      tags: ["usage"],
      operationId: "getUsage",
      summary: "Tokens and cost of the organization's runs, summed by day, user, model or session",
      description: [
        "The runs that finished in `[from, to)` (both ISO times; by default the current month so far), summed per `groupBy` (default `day`): a UTC day `YYYY-MM-DD`, a user id, a `provider/model`, or a session id; `(none)` where a run has none. Numbers are the engine's, per model step, summed over each run; `cost` is in USD as the engine prices the model (0 where it has no price).",
        MONTH,
      ].join("\n\n"),
      security: Auth.apiKey,
      requestParams: { query: UsageQuery },
      responses: { 200: answer("The sums, per group and in total.", UsageReport, Example.usageReport), ...errors([400, 401, 429, 503]) },
    },
  },
  "/api/budget": {
    get: {
      tags: ["usage"],
      operationId: "getBudget",
      summary: "The organization's monthly budget, this month's spend, and its state",
      description: [
        "`source` says where the caps come from: the organization's own (`PUT`), the operator's default (`NUBABEL_DEFAULT_MONTHLY_COST`, `NUBABEL_DEFAULT_MONTHLY_TOKENS`), or `none`. `state` is `warning` past `warnAtPercent` of a cap and `exceeded` at a cap: new runs are then refused with 402.",
        MONTH,
      ].join("\n\n"),
      security: Auth.apiKey,
      responses: { 200: answer("The budget in force.", ApiBudget, Example.budget), ...errors([400, 401, 429, 503]) },
    },
    put: {
      tags: ["usage"],
      operationId: "setBudget",
      summary: "Set the organization's monthly budget",
      description:
        "Replaces the organization's own budget: a cap left out is no cap of that kind (the operator's default no longer applies; `DELETE` brings it back). `{}` lifts every cap. Takes effect with the next submitted run.",
      security: Auth.apiKey,
      requestBody: body(BudgetSettings, Example.budgetSettings),
      responses: { 200: answer("The budget now in force.", ApiBudget, Example.budget), ...errors([400, 401, 429, 503]) },
    },
    delete: {
      tags: ["usage"],
      operationId: "resetBudget",
      summary: "Drop the organization's own budget: the operator's default applies again",
      security: Auth.apiKey,
      responses: {
        200: answer("The budget now in force.", ApiBudget, Example.defaultBudget),
        ...errors([400, 401, 429, 503]),
      },
    },
  },
};
