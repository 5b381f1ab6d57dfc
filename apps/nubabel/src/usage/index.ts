export * as UsageReports from "./reports.js";
export type { UsageRow, UsageStore } from "./ports.js";
export { monthOf } from "./period.js";
