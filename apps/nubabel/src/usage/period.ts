/**
 * Budgets count by calendar month in UTC: one rule for every organization wherever its people
 * are, and a reset time that reads the same in every answer.
 */
export function monthOf(now: Date): { start: Date; end: Date } {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
  const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  return { start, end };
}
