import type { BudgetSettings } from "@nubabel/contracts";
import { describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.js";
import { Budgets, type BudgetDefaults } from "./budgets.js";
import { BudgetExceeded } from "./errors.js";

const NOW = new Date("2026-11-30T23:59:59.000Z");

function budgets(defaults: Partial<BudgetDefaults>, spent = { cost: 0, tokens: 0 }, cacheMs = 0) {
  const own = new Map<string, BudgetSettings>();
  const since: Date[] = [];
  const reads: string[] = [];
  const b = new Budgets({
    store: { get: async (id) => (reads.push(id), own.get(id)), put: async (id, s) => void own.set(id, s), remove: async (id) => own.delete(id) },
    usage: { spent: async (_id, from) => (since.push(from), spent) },
    defaults: { warnAtPercent: 80, ...defaults },
    logger: createLogger("silent"),
    cacheMs,
    now: () => NOW,
  });
  return { b, since, reads, own };
}

describe("budgets", () => {
  it("counts the calendar month in UTC and resets on the first of the next", async () => {
    const { b, since } = budgets({});
    const got = await b.get("org_a");
    expect(got).toMatchObject({ source: "none", state: "ok", periodStart: "2026-11-01T00:00:00.000Z", resetsAt: "2026-12-01T00:00:00.000Z" });
    expect(since).toEqual([new Date("2026-11-01T00:00:00.000Z")]);
  });

  it("applies the operator's default until the organization sets its own, and again after a reset", async () => {
    const { b } = budgets({ monthlyCost: 10, warnAtPercent: 90 }, { cost: 9.5, tokens: 100 });
    expect(await b.get("org_a")).toMatchObject({ monthlyCost: 10, warnAtPercent: 90, source: "default", state: "warning" });
    // Its own budget replaces the default whole: no cost cap now, its own warning threshold.
    expect(await b.put("org_a", { monthlyTokens: 1_000, warnAtPercent: 5 })).toMatchObject({ monthlyTokens: 1_000, warnAtPercent: 5, source: "organization", state: "warning" });
    expect((await b.get("org_a")).monthlyCost).toBeUndefined();
    expect(await b.put("org_a", {})).toMatchObject({ source: "organization", state: "ok", warnAtPercent: 90 });
    expect(await b.reset("org_a")).toMatchObject({ monthlyCost: 10, source: "default" });
  });

  it("refuses at a cap, with the budget, the spend and the reset, and not below it", async () => {
    await expect(budgets({ monthlyTokens: 101 }, { cost: 1, tokens: 100 }).b.check("org_a")).resolves.toBeUndefined();
    const err = await budgets({ monthlyTokens: 100, monthlyCost: 50 }, { cost: 1, tokens: 100 }).b.check("org_a").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BudgetExceeded);
    expect((err as BudgetExceeded).data).toEqual({ budget: { monthlyCost: 50, monthlyTokens: 100 }, spent: { cost: 1, tokens: 100 }, resetsAt: "2026-12-01T00:00:00.000Z" });
    expect((err as Error).message).toContain("100 of 100 tokens");
  });

  it("checks without summing the month when no cap is in force, and reads an organization's budget once per cacheMs", async () => {
    const { b, since, reads, own } = budgets({}, { cost: 5, tokens: 500 }, 60_000);
    await b.check("org_a");
    await b.check("org_a");
    expect(since).toEqual([]);
    expect(reads).toEqual(["org_a"]);
    // Written elsewhere (another instance): this one keeps its copy until it expires.
    own.set("org_a", { monthlyTokens: 100 });
    await expect(b.check("org_a")).resolves.toBeUndefined();
    // Written here: applies at once.
    await b.put("org_a", { monthlyTokens: 400 });
    await expect(b.check("org_a")).rejects.toBeInstanceOf(BudgetExceeded);
    await b.reset("org_a");
    await expect(b.check("org_a")).resolves.toBeUndefined();
  });
});
