import { drive } from "./concurrent.js";
import { CLK_TCK, processTable, treeTicks } from "./procfs.js";
import type { Service } from "./services.js";
import { settle, type Stack } from "./stack.js";
import { percentile } from "./stats.js";
import { waitingTurn, type TurnFn } from "./turns.js";

interface PoolRow {
  sidecars: Service[];
  answered: number;
  failed: number;
  wallMs: number;
  p50: number;
  /** CPU seconds of each sidecar's tree (its engine included) over the measurement. */
  cpuSeconds: number[];
  example?: string;
}

/**
 * Throughput with one sidecar and with two: `turns` new conversations, `concurrency` at a time,
 * through Nubabel (waiting), round-robin over `organizations` new organizations, with Nubabel's
 * SIDECAR_URLS set to the stack's sidecar, then to it and a second one started like it (its own
 * port, folder and Redis prefix). Nubabel is restarted for each, with organizations of its own
 * (placement keeps an organization where its workspace is), and each organization runs a turn
 * first, so that neither Nubabel's start nor an engine instance's first load is measured. Nubabel
 * is set back to the one sidecar afterwards and the second is stopped.
 */
export async function benchPool(stack: Stack, options: { turns: number; concurrency: number; organizations: number }): Promise<void> {
  const { turns, concurrency } = options;
  console.log(`\nOne sidecar and two: ${turns} new conversations, ${concurrency} at a time, through Nubabel (waiting), over ${options.organizations} new organizations`);
  const second = await stack.addSidecar("sidecar-2");
  const rows: PoolRow[] = [];
  try {
    for (const sidecars of [[stack.sidecar], [stack.sidecar, second]]) {
      const nubabel = await stack.restartNubabel({ SIDECAR_URLS: sidecars.map((s) => s.url).join(",") });
      // New ones each time: placement keeps an organization on the sidecar that holds its workspace.
      const names = Array.from({ length: options.organizations }, (_, k) => `Pool ${sidecars.length}.${k + 1}`);
      const keys = (await stack.organizations(names)).map((o) => o.apiKey);
      let n = 0;
      const turn: TurnFn = (signal) => waitingTurn({ nubabel, apiKey: keys[n++ % keys.length]! })(signal);
      await drive(Math.min(8, keys.length), keys.length, turn);
      await settle(stack.model);
      const before = sidecars.map((s) => treeTicks(processTable(), s.pid));
      const { turns: done, wallMs } = await drive(concurrency, turns, turn);
      const after = sidecars.map((s) => treeTicks(processTable(), s.pid));
      const ms = done.flatMap((t) => (t.ms === undefined ? [] : [t.ms]));
      const failure = done.find((t) => t.failure);
      rows.push({
        sidecars,
        answered: ms.length,
        failed: done.length - ms.length,
        wallMs,
        p50: percentile(ms, 50),
        cpuSeconds: after.map((ticks, i) => (ticks - before[i]!) / CLK_TCK),
        ...(failure ? { example: `${failure.failure}: ${failure.message?.slice(0, 160)}` } : {}),
      });
      printRow(rows.at(-1)!);
      await settle(stack.model);
    }
  } finally {
    await second.stop();
    await stack.restartNubabel({});
  }
  const [one, two] = rows.map((row) => (row.answered * 1000) / row.wallMs);
  if (one && two) console.log(`  two / one: ${(two / one).toFixed(2)}x turns/s`);
}

function printRow(row: PoolRow): void {
  const label = `SIDECAR_URLS = ${row.sidecars.length} sidecar${row.sidecars.length === 1 ? "" : "s"}`;
  const cpu = row.sidecars.map((s, i) => `${s.name} ${row.cpuSeconds[i]!.toFixed(1)} s`).join(", ");
  console.log(
    `  ${label.padEnd(26)} ${((row.answered * 1000) / row.wallMs).toFixed(1).padStart(6)} turns/s, p50 ${row.p50.toFixed(0)} ms, ` +
      `${row.failed} failed${row.example ? ` (e.g. ${row.example})` : ""}; CPU with its engine: ${cpu}`,
  );
}
