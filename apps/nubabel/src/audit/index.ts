export type { AuditLog, AuditRecord } from "./ports.js";
export * as AuditCursor from "./cursor.js";
export { AuditCursorInvalid } from "./errors.js";
export { startRetention, type Retention } from "./retention.js";
