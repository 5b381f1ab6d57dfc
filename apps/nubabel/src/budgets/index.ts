export { Budgets, assess, type BudgetDefaults, type BudgetsDeps } from "./budgets.js";
export { BudgetExceeded, money, type BudgetExceededData } from "./errors.js";
export type { BudgetStore } from "./ports.js";
