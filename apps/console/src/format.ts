import type { Usage } from "@nubabel/contracts";

/** `1.2 s`, `3 min 4 s`; an empty string without a start. */
export function duration(start?: string, end?: string, now = Date.now()): string {
  if (!start) return "";
  const ms = (end ? Date.parse(end) : now) - Date.parse(start);
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });

export const count = (n: number): string => integer.format(n);

/** Input + output tokens, the sum budgets count. */
export const tokens = (usage?: Pick<Usage, "inputTokens" | "outputTokens">): string => (usage ? count(usage.inputTokens + usage.outputTokens) : "");

/** US dollars, with more digits for the tiny costs of single runs. */
export function cost(value?: number): string {
  if (value === undefined) return "";
  return `$${value.toFixed(value !== 0 && value < 0.01 ? 4 : 2)}`;
}

/** A time in the reader's locale. */
export const when = (iso?: string): string => (iso ? new Date(iso).toLocaleString() : "");
