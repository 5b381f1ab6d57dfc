import { NubabelError } from "../errors.js";

export interface BudgetExceededData {
  budget: { monthlyCost?: number; monthlyTokens?: number };
  spent: { cost: number; tokens: number };
  /** When the month's spend starts again from zero (ISO, UTC). */
  resetsAt: string;
}

/** The organization spent its monthly cap: no new run starts until the month turns or the cap is raised. */
export class BudgetExceeded extends NubabelError<BudgetExceededData> {
  override readonly name = "BudgetExceeded";
  constructor(data: BudgetExceededData) {
    super(`this organization reached its monthly budget (${describe(data)}); new runs are refused until ${data.resetsAt} or until the budget is raised`, data);
  }
}

function describe({ budget, spent }: BudgetExceededData): string {
  const parts: string[] = [];
  if (budget.monthlyCost !== undefined) parts.push(`cost ${money(spent.cost)} of ${money(budget.monthlyCost)} USD`);
  if (budget.monthlyTokens !== undefined) parts.push(`${spent.tokens} of ${budget.monthlyTokens} tokens`);
  return `spent ${parts.join(", ")}`;
}

/** Enough digits that a tiny cap (a test's, or a cheap model's) does not read as 0.00. */
export function money(value: number): string {
  return value >= 1 ? value.toFixed(2) : String(Number(value.toPrecision(3)));
}
