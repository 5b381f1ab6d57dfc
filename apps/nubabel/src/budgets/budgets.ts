import type { ApiBudget, BudgetSettings } from "@nubabel/contracts";
import type { AuditLog } from "../audit/index.js";
import type { CacheChanges } from "../cache/changes.js";
import { Recent } from "../cache/recent.js";
import type { Logger } from "../log/logger.js";
import { monthOf, type UsageStore } from "../usage/index.js";
import { BudgetExceeded } from "./errors.js";
import type { BudgetStore } from "./ports.js";

/** The operator's default for organizations without a budget of their own (`NUBABEL_DEFAULT_*`). */
export interface BudgetDefaults {
  monthlyCost?: number;
  monthlyTokens?: number;
  warnAtPercent: number;
}

export interface BudgetsDeps {
  store: BudgetStore;
  usage: Pick<UsageStore, "spent">;
  defaults: BudgetDefaults;
  logger: Logger;
  /** How long an organization's own budget is reused by `check` (`SETTINGS_CACHE_MS`; a change here applies at once). */
  cacheMs?: number;
  /** Where a change made here is announced to the other instances (and theirs heard). */
  changes?: CacheChanges;
  /** Where each change is recorded (`budget` entries, actor `api`: only an API key changes a budget). */
  audit?: Pick<AuditLog, "record">;
  now?: () => Date;
}

/**
 * Monthly budgets: a cap on cost and/or tokens (input + output) per organization, its own or the
 * operator's default. Checked when a run is submitted only: a run under way, or one queued before
 * the cap was reached, goes on to its end, so the month's spend may pass the cap by what those use.
 */
export class Budgets {
  private readonly log: Logger;
  private readonly own: Recent<BudgetSettings | undefined>;

  constructor(private readonly deps: BudgetsDeps) {
    this.log = deps.logger.child({ module: "budgets" });
    this.own = new Recent((organizationId) => deps.store.get(organizationId), {
      ttlMs: deps.cacheMs ?? 0,
      ...(deps.changes ? { changes: { feed: deps.changes, name: "budget" } } : {}),
    });
  }

  /** The budget in force for the organization, this month's spend and its state. */
  async get(organizationId: string): Promise<ApiBudget> {
    const now = this.now();
    const [own, spent] = await Promise.all([this.deps.store.get(organizationId), this.deps.usage.spent(organizationId, monthOf(now).start)]);
    return assess(this.inForce(own), spent, now);
  }

  /** Replaces the organization's own budget; returns it as `get` would. */
  async put(organizationId: string, settings: BudgetSettings): Promise<ApiBudget> {
    await this.deps.store.put(organizationId, settings);
    this.own.forget(organizationId);
    this.log.info({ organizationId, ...settings }, "budget set");
    await this.deps.audit?.record({ organizationId, kind: "budget", actor: "api", action: "update", status: "ok", detail: describeBudget(settings) });
    return this.get(organizationId);
  }

  /** Drops the organization's own budget: the operator's default applies again. */
  async reset(organizationId: string): Promise<ApiBudget> {
    const removed = await this.deps.store.remove(organizationId);
    this.own.forget(organizationId);
    if (removed) {
      this.log.info({ organizationId }, "budget reset to the default");
      await this.deps.audit?.record({ organizationId, kind: "budget", actor: "api", action: "delete", status: "ok", detail: "the operator's default applies again" });
    }
    return this.get(organizationId);
  }

  /** Throws `BudgetExceeded` when the organization has spent a cap this month (the run would start past it). */
  async check(organizationId: string): Promise<void> {
    // Asked before every run: without a cap (most organizations) the month's spend is not summed.
    const caps = this.inForce(await this.own.get(organizationId));
    if (caps.monthlyCost === undefined && caps.monthlyTokens === undefined) return;
    const now = this.now();
    const budget = assess(caps, await this.deps.usage.spent(organizationId, monthOf(now).start), now);
    if (budget.state !== "exceeded") return;
    throw new BudgetExceeded({
      budget: { ...(budget.monthlyCost !== undefined ? { monthlyCost: budget.monthlyCost } : {}), ...(budget.monthlyTokens !== undefined ? { monthlyTokens: budget.monthlyTokens } : {}) },
      spent: budget.spent,
      resetsAt: budget.resetsAt,
    });
  }

  private inForce(own: BudgetSettings | undefined): Caps {
    const { defaults } = this.deps;
    if (own) return { ...own, warnAtPercent: own.warnAtPercent ?? defaults.warnAtPercent, source: "organization" };
    const capped = defaults.monthlyCost !== undefined || defaults.monthlyTokens !== undefined;
    return { ...defaults, source: capped ? "default" : "none" };
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

/** The caps set, in words for the audit; the warning percentage is the default's when not given. */
function describeBudget(settings: BudgetSettings): string {
  const caps = [
    ...(settings.monthlyCost !== undefined ? [`monthly cost ${settings.monthlyCost}`] : []),
    ...(settings.monthlyTokens !== undefined ? [`monthly tokens ${settings.monthlyTokens}`] : []),
  ];
  const warn = settings.warnAtPercent !== undefined ? `, warn at ${settings.warnAtPercent}%` : "";
  return `${caps.join(", ") || "no cap"}${warn}`;
}

type Caps = Pick<ApiBudget, "monthlyCost" | "monthlyTokens" | "warnAtPercent" | "source">;

/** The budget's state for `spent`: `exceeded` at or past a cap, `warning` at or past `warnAtPercent` of one. */
export function assess(caps: Caps, spent: ApiBudget["spent"], now: Date): ApiBudget {
  const { start, end } = monthOf(now);
  const used = [
    caps.monthlyCost !== undefined ? spent.cost / caps.monthlyCost : 0,
    caps.monthlyTokens !== undefined ? spent.tokens / caps.monthlyTokens : 0,
  ];
  const most = Math.max(...used);
  const state = most >= 1 ? "exceeded" : most * 100 >= caps.warnAtPercent ? "warning" : "ok";
  return {
    ...(caps.monthlyCost !== undefined ? { monthlyCost: caps.monthlyCost } : {}),
    ...(caps.monthlyTokens !== undefined ? { monthlyTokens: caps.monthlyTokens } : {}),
    warnAtPercent: caps.warnAtPercent,
    source: caps.source,
    spent,
    periodStart: start.toISOString(),
    resetsAt: end.toISOString(),
    state,
  };
}
