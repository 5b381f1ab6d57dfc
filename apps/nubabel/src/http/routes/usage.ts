import type { FastifyInstance } from "fastify";
import { BudgetSettings, UsageQuery, type ApiBudget, type UsageReport } from "@nubabel/contracts";
import { UsageReports } from "../../usage/index.js";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { InvalidRequest, parse, parseQuery } from "../errors.js";

/**
 * `GET /api/usage` and `/api/budget`: what the organization of the API key spent, and its monthly
 * cap. No parameter reaches another organization's runs or budget.
 */
export function usageRoutes(app: FastifyInstance, deps: HttpDeps): void {
  app.get("/api/usage", async (request): Promise<UsageReport> => {
    const org = await authorizeApiKey(deps, request);
    const query = parseQuery(UsageQuery, request.query);
    const from = query.from ? new Date(query.from) : undefined;
    const to = query.to ? new Date(query.to) : undefined;
    if (from && to && from >= to) throw new InvalidRequest("invalid query: to: must be later than from", ["to"]);
    return UsageReports.report(deps.usage, org.id, { from, to, groupBy: query.groupBy });
  });

  app.get("/api/budget", async (request): Promise<ApiBudget> => {
    const org = await authorizeApiKey(deps, request);
    return deps.budgets.get(org.id);
  });

  app.put("/api/budget", async (request): Promise<ApiBudget> => {
    const org = await authorizeApiKey(deps, request);
    const settings = parse(BudgetSettings, request.body);
    return deps.budgets.put(org.id, settings);
  });

  app.delete("/api/budget", async (request): Promise<ApiBudget> => {
    const org = await authorizeApiKey(deps, request);
    return deps.budgets.reset(org.id);
  });
}
