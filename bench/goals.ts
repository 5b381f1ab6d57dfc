import { DIRECT as DEPLOYED_DIRECT, FOLLOW_UP as DEPLOYED_FOLLOW_UP, type FollowUpCost } from "./follow-up.js";
import { type LoadRow, percentile, type Row } from "./stats.js";

/** What the bench measured against the orchestration's goals (issue 10); each line says met or not. */
export interface GoalInputs {
  /** The side-by-side rows (their ratios at c=100 and c=200). */
  levels: LoadRow[];
  /** The one-at-a-time table: the engine alone first, Nubabel last. */
  oneAtATime: Row[];
  /** Follow-ups with Nubabel in its own process, a stand-in sidecar in the bench's: pairs as below. */
  followUp?: FollowUpCost;
  /** Nubabel's internals: the direct call to the stand-in sidecar and the follow-up through Nubabel, sampled in pairs. */
  internals: Row[];
}

const DIRECT = "sidecar prompt, called directly (fake sidecar)";
const FOLLOW_UP = "POST /api/delegate follow-up";

/** Prints each goal, the figure measured in this run, and whether it holds; asserts nothing. */
export function printGoals({ levels, oneAtATime, followUp, internals }: GoalInputs): void {
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? "met" : "NOT met");
  const rate = (row: LoadRow) => row.turns.filter((t) => t.ms !== undefined).length / (row.wallMs / 1000);
  for (const c of [100, 200]) {
    const base = levels.find((r) => r.concurrency === c && r.label === "engine");
    const ours = levels.filter((r) => r.concurrency === c && r.label.startsWith("Nubabel"));
    if (!base || !ours.length) continue;
    const ratios = ours.map((r) => `${r.label.replace("Nubabel ", "")} ${(rate(r) / rate(base)).toFixed(2)}x`);
    const least = Math.min(...ours.map((r) => rate(r) / rate(base)));
    lines.push(`throughput through Nubabel at c=${c} ≥ 0.90x the engine's: ${ratios.join(", ")}: ${verdict(least >= 0.9)}`);
  }
  const engine = oneAtATime[0];
  const nubabel = oneAtATime.at(-1);
  if (engine && nubabel && engine !== nubabel) {
    const ratio = percentile(nubabel.samples, 50) / percentile(engine.samples, 50);
    lines.push(`one at a time, Nubabel's p50 ≤ 1.05x the SDK's: ${ratio.toFixed(2)}x (${percentile(nubabel.samples, 50).toFixed(1)} against ${percentile(engine.samples, 50).toFixed(1)} ms): ${verdict(ratio <= 1.05)}`);
  }
  const ownCost = (rows: Row[], direct: string, via: string, where: string) => {
    const [before, after] = [rows.find((r) => r.name === direct)?.samples, rows.find((r) => r.name === via)?.samples];
    if (!before?.length || after?.length !== before.length) return;
    // Sampled in pairs, one right after the other: the difference of each pair is what Nubabel added.
    const own = after.map((ms, i) => ms - before[i]!);
    const [p50, p99] = [percentile(own, 50), percentile(own, 99)];
    lines.push(`Nubabel's own cost per follow-up ≤ 2 ms p50 and ≤ 5 ms p99, ${where} (each follow-up less the direct call before it): ${p50.toFixed(2)} / ${p99.toFixed(2)} ms: ${verdict(p50 <= 2 && p99 <= 5)}`);
  };
  if (followUp) ownCost(followUp.rows, DEPLOYED_DIRECT, DEPLOYED_FOLLOW_UP, "Nubabel in its own process");
  ownCost(internals, DIRECT, FOLLOW_UP, "Nubabel, the stand-in and the client in one process");
  if (!lines.length) return;
  console.log("\nGoals (issue 10), as measured in this run");
  for (const line of lines) console.log(`  ${line}`);
}
