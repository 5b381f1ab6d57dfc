import type { ApiBudget, BudgetSettings } from "@nubabel/contracts";
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { Problem, Unavailable } from "../components.js";
import { cost, count, when } from "../format.js";
import { useLoad } from "../hooks.js";

/** The monthly caps in force, this month's spend against them, and a form to change them. */
export function BudgetPage() {
  const budget = useLoad(() => api<ApiBudget>("/api/budget"), []);
  const [error, setError] = useState<unknown>();
  const [saved, setSaved] = useState(false);
  const b = budget.data;

  async function submit(event: SubmitEvent) {
    event.preventDefault();
    const form = event.currentTarget as HTMLFormElement;
    const number = (name: string) => {
      const raw = (form.elements.namedItem(name) as HTMLInputElement).value.trim();
      return raw === "" ? undefined : Number(raw);
    };
    const body: BudgetSettings = {};
    const monthlyCost = number("monthlyCost");
    const monthlyTokens = number("monthlyTokens");
    const warnAtPercent = number("warnAtPercent");
    if (monthlyCost !== undefined) body.monthlyCost = monthlyCost;
    if (monthlyTokens !== undefined) body.monthlyTokens = monthlyTokens;
    if (warnAtPercent !== undefined) body.warnAtPercent = warnAtPercent;
    try {
      await api("/api/budget", { method: "PUT", body });
      setError(undefined);
      setSaved(true);
      budget.reload();
    } catch (err) {
      setSaved(false);
      setError(err);
    }
  }

  return (
    <>
      <h1>Budget</h1>
      <Unavailable what="The budget" error={budget.error} />
      {b && (
        <>
          <dl class="facts card">
            <dt>State</dt>
            <dd>
              <span class={`status budget-${b.state}`}>{b.state}</span>
            </dd>
            <dt>Spent this month</dt>
            <dd>
              {cost(b.spent.cost)}, {count(b.spent.tokens)} tokens
            </dd>
            <dt>Monthly cost cap</dt>
            <dd>{b.monthlyCost === undefined ? "none" : cost(b.monthlyCost)}</dd>
            <dt>Monthly token cap</dt>
            <dd>{b.monthlyTokens === undefined ? "none" : count(b.monthlyTokens)}</dd>
            <dt>Warn at</dt>
            <dd>{b.warnAtPercent} %</dd>
            <dt>Set by</dt>
            <dd>{b.source}</dd>
            <dt>Resets</dt>
            <dd>{when(b.resetsAt)}</dd>
          </dl>
          <form class="card grid" onSubmit={submit}>
            <h2>Change the caps</h2>
            <label for="monthlyCost">Monthly cost cap (USD)</label>
            <input id="monthlyCost" name="monthlyCost" type="number" min="0" step="any" inputMode="decimal" value={b.monthlyCost ?? ""} />
            <label for="monthlyTokens">Monthly token cap (input + output)</label>
            <input id="monthlyTokens" name="monthlyTokens" type="number" min="1" step="1" inputMode="numeric" value={b.monthlyTokens ?? ""} />
            <label for="warnAtPercent">Warn at (percent of a cap)</label>
            <input id="warnAtPercent" name="warnAtPercent" type="number" min="1" max="100" step="1" value={b.warnAtPercent} />
            <Problem error={error} />
            {saved && <p role="status">Saved.</p>}
            <button type="submit">Save budget</button>
          </form>
        </>
      )}
    </>
  );
}
