import type { UsageReport } from "@nubabel/contracts";
import { Unavailable } from "../components.js";
import { cost, count } from "../format.js";
import { useLoad } from "../hooks.js";
import { api } from "../api.js";
import { BarChart } from "../bar-chart.js";

/** This month's spend by day: a bar chart of the cost and the table behind it. */
export function UsagePage() {
  const report = useLoad(() => api<UsageReport>("/api/usage?groupBy=day"), []);
  const data = report.data;
  return (
    <>
      <h1>Usage</h1>
      <Unavailable what="Usage" error={report.error} />
      {report.loading && !data && <p>Loading…</p>}
      {data && (
        <>
          <p>
            {new Date(data.from).toLocaleDateString()} to {new Date(data.to).toLocaleDateString()}: {count(data.total.runs)} runs,{" "}
            {count(data.total.inputTokens + data.total.outputTokens)} tokens, {cost(data.total.cost)}.
          </p>
          <BarChart title="Cost by day" bars={data.rows.map((r) => ({ label: r.key, value: r.cost, text: cost(r.cost) }))} />
          <div class="scroll">
            <table>
              <caption>Usage by day</caption>
              <thead>
                <tr>
                  <th scope="col">Day</th>
                  <th scope="col">Runs</th>
                  <th scope="col">Input tokens</th>
                  <th scope="col">Output tokens</th>
                  <th scope="col">Cost</th>
                </tr>
              </thead>
              <tbody>
                {data.rows.map((r) => (
                  <tr key={r.key}>
                    <td>{r.key}</td>
                    <td>{count(r.runs)}</td>
                    <td>{count(r.inputTokens)}</td>
                    <td>{count(r.outputTokens)}</td>
                    <td>{cost(r.cost)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </>
  );
}
