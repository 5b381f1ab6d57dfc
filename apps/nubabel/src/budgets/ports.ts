import type { BudgetSettings } from "@nubabel/contracts";

/** Organizations' own budgets (`PUT /api/budget`). */
export interface BudgetStore {
  /** The organization's own budget, or `undefined` when it has none (the operator's default applies). */
  get(organizationId: string): Promise<BudgetSettings | undefined>;
  /** Replaces the organization's budget: a cap left out is no cap of that kind. */
  put(organizationId: string, settings: BudgetSettings): Promise<void>;
  /** Drops the organization's budget, so the default applies again; false when it had none. */
  remove(organizationId: string): Promise<boolean>;
}
