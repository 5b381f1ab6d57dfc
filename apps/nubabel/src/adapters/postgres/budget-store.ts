import { eq } from "drizzle-orm";
import type { BudgetSettings } from "@nubabel/contracts";
import type { BudgetStore } from "../../budgets/index.js";
import type { Db } from "../../db/database.js";
import { budgets } from "../../db/schema.js";

/** `BudgetStore` on PostgreSQL or PGlite: one row per organization that set its own. */
export class PgBudgetStore implements BudgetStore {
  constructor(private readonly db: Db) {}

  async get(organizationId: string): Promise<BudgetSettings | undefined> {
    const [row] = await this.db.select().from(budgets).where(eq(budgets.organizationId, organizationId)).limit(1);
    if (!row) return undefined;
    return {
      ...(row.monthlyCost !== null ? { monthlyCost: row.monthlyCost } : {}),
      ...(row.monthlyTokens !== null ? { monthlyTokens: row.monthlyTokens } : {}),
      ...(row.warnAtPercent !== null ? { warnAtPercent: row.warnAtPercent } : {}),
    };
  }

  async put(organizationId: string, settings: BudgetSettings): Promise<void> {
    const values = {
      monthlyCost: settings.monthlyCost ?? null,
      monthlyTokens: settings.monthlyTokens ?? null,
      warnAtPercent: settings.warnAtPercent ?? null,
      updatedAt: new Date(),
    };
    await this.db
      .insert(budgets)
      .values({ organizationId, ...values })
      .onConflictDoUpdate({ target: budgets.organizationId, set: values });
  }

  async remove(organizationId: string): Promise<boolean> {
    const rows = await this.db.delete(budgets).where(eq(budgets.organizationId, organizationId)).returning({ id: budgets.organizationId });
    return rows.length > 0;
  }
}
