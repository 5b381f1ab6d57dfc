/** Percentile of sorted-or-not samples (nearest rank). */
export function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx] ?? NaN;
}

export interface Row {
  name: string;
  samples: number[];
  /** The row this one is compared with (its p50 ratio is printed). */
  baseline?: string;
}

/** Prints a fixed-width table: p50, p95, p99 in ms, and the ratio of p50s against the baseline row. */
export function printTable(title: string, rows: Row[]): void {
  const byName = new Map(rows.map((r) => [r.name, r]));
  const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2).padStart(9) : "      n/a");
  console.log(`\n${title}`);
  console.log(`${"path".padEnd(50)} ${"n".padStart(5)} ${"p50 ms".padStart(9)} ${"p95 ms".padStart(9)} ${"p99 ms".padStart(9)}  ratio(p50)`);
  for (const row of rows) {
    const base = row.baseline ? byName.get(row.baseline) : undefined;
    const ratio = base ? (percentile(row.samples, 50) / percentile(base.samples, 50)).toFixed(2) + "x" : "baseline";
    console.log(
      `${row.name.padEnd(50)} ${String(row.samples.length).padStart(5)} ${fmt(percentile(row.samples, 50))} ${fmt(percentile(row.samples, 95))} ${fmt(percentile(row.samples, 99))}  ${ratio}`,
    );
  }
}

/** How a turn of a burst failed: an HTTP error (non-2xx or no response), a run that ended failed, or no end in time. */
export type Failure = "http" | "failed" | "timeout";

/** One turn of a burst: its latency when answered, else how it failed. */
export interface Turn {
  ms?: number;
  /** The run it was (Nubabel), to confirm it afterwards. */
  id?: string;
  failure?: Failure;
  message?: string;
}

/** `turns.length` turns started at once; `wallMs` from the first start to the last end. */
export interface Burst {
  name: string;
  turns: Turn[];
  wallMs: number;
  /**
   * Share of the burst the bench process's event loop was busy. Nubabel and the sidecar run in
   * that process (the engine does not): near 1, they were bound by one thread.
   */
  loopBusy: number;
  /** The burst this one's throughput is compared with. */
  baseline?: string;
}

/**
 * Prints throughput (answered turns per second of the burst's wall time) and its ratio to the
 * baseline's, p50/p95 of the answered turns' latencies, the failures by kind and how busy the
 * bench process was, with sample messages of each burst that had failures.
 */
export function printBursts(title: string, bursts: Burst[]): void {
  const rate = (b: Burst) => b.turns.filter((t) => t.ms !== undefined).length / (b.wallMs / 1000);
  const byName = new Map(bursts.map((b) => [b.name, b]));
  const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");
  const cols: Array<[string, number]> = [["path", 40], ["n", 5], ["ok", 5], ["turns/s", 8], ["ratio", 9], ["p50 ms", 8], ["p95 ms", 8], ["non-2xx", 8], ["failed", 7], ["timeout", 8], ["loop busy", 10]];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join(" ");
  console.log(`\n${title}`);
  console.log(line(cols.map(([c]) => c)));
  for (const b of bursts) {
    const ms = b.turns.flatMap((t) => (t.ms === undefined ? [] : [t.ms]));
    const failed = (kind: Failure) => String(b.turns.filter((t) => t.failure === kind).length);
    const base = b.baseline ? byName.get(b.baseline) : undefined;
    const ratio = base ? `${fmt(rate(b) / rate(base), 2)}x` : "baseline";
    console.log(line([b.name, String(b.turns.length), String(ms.length), fmt(rate(b), 1), ratio, fmt(percentile(ms, 50)), fmt(percentile(ms, 95)), failed("http"), failed("failed"), failed("timeout"), `${fmt(b.loopBusy * 100)}%`]));
  }
  for (const b of bursts) {
    const messages = [...new Set(b.turns.flatMap((t) => (t.failure ? [`${t.failure}: ${t.message ?? ""}`] : [])))];
    if (messages.length) console.log(`  ${b.name}: ${messages.slice(0, 3).join(" | ").slice(0, 600)}`);
  }
}
