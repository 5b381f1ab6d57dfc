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
