import os from "node:os";
import type { CpuUse, Role } from "./cpu.js";

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

/** How a turn failed: an HTTP error (non-2xx or no response), a run that ended failed, or no end in time. */
export type Failure = "http" | "failed" | "timeout";

/** One turn of a row: its latency when answered, else how it failed. */
export interface Turn {
  ms?: number;
  /** The run it was (Nubabel), to confirm it afterwards. */
  id?: string;
  failure?: Failure;
  message?: string;
}

/** One path at one concurrency: its turns, how long they took together, and what each process spent. */
export interface LoadRow {
  path: string;
  label: string;
  concurrency: number;
  turns: Turn[];
  /** From the first start to the last end. */
  wallMs: number;
  /** Share of `wallMs` the bench process's event loop (load generator and model server) was busy. */
  loopBusy: number;
  /** CPU per process over the row and its settling. */
  cpu: CpuUse;
  engineRestarted: boolean;
}

const answered = (row: LoadRow) => row.turns.flatMap((t) => (t.ms === undefined ? [] : [t.ms]));
const rate = (row: LoadRow) => answered(row).length / (row.wallMs / 1000);
const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

/**
 * One concurrency level: per path, answered turns per second and its ratio to the engine alone
 * (the level's first row), p50/p95 latency of the answered turns, errors, how busy the bench's own
 * event loop was, CPU ms per answered turn of each process above its idle use (`idle`, ms per
 * second), and the share of the machine's cores that those processes together (`ours`, idle
 * included) and everything else (`other`) took over the row and its settling. Then a sample error
 * message per path that had errors.
 */
export function printLevel(concurrency: number, rows: LoadRow[], roles: Role[], idle: Record<Role, number>): void {
  const base = rows[0]!;
  const cols: Array<[string, number]> = [
    ["path", 27],
    ["ok/sent", 9],
    ["turns/s", 8],
    ["×engine", 8],
    ["p50 ms", 7],
    ["p95 ms", 7],
    ["errors", 6],
    ["loop", 5],
    ...roles.map((role): [string, number] => [role === "postgres" ? "pg" : role, 8]),
    ["ours", 5],
    ["other", 5],
  ];
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(cols[i]![1]) : c.padStart(cols[i]![1]))).join(" ");
  const cpuAt = 1 + cols.findIndex(([name]) => name === "loop");
  const head = line(cols.map(([c]) => c));
  const turns = base.turns.length;
  console.log(`\n${concurrency} concurrent turn${concurrency === 1 ? "" : "s"} (${turns} new conversations per path, ${concurrency} in flight at a time)`);
  console.log(`${" ".repeat(line(cols.slice(0, cpuAt).map(() => "")).length)} ${"CPU ms per turn, above idle".padStart(roles.length * 9 - 1)} ${"of all cores".padStart(11)}`);
  console.log(head);
  for (const row of rows) {
    const ok = answered(row);
    const failures = row.turns.filter((t) => t.failure).length;
    const ratio = row === base ? "base" : `${fmt(rate(row) / rate(base), 2)}x`;
    const { ms, otherMs, wallMs } = row.cpu;
    const perTurn = roles.map((role) => fmt((ms[role] - (idle[role] * wallMs) / 1000) / ok.length, 1));
    const share = (used: number) => `${fmt((used / wallMs / os.availableParallelism()) * 100)}%`;
    const ours = roles.reduce((sum, role) => sum + (Number.isFinite(ms[role]) ? ms[role] : 0), 0);
    console.log(line([row.path, `${ok.length}/${row.turns.length}`, fmt(rate(row), 1), ratio, fmt(percentile(ok, 50)), fmt(percentile(ok, 95)), String(failures), `${fmt(row.loopBusy * 100)}%`, ...perTurn, share(ours), share(otherMs)]));
  }
  for (const row of rows) {
    const kinds = (["http", "failed", "timeout"] as const).map((kind) => [kind, row.turns.filter((t) => t.failure === kind)] as const).filter(([, t]) => t.length);
    for (const [kind, failed] of kinds) console.log(`  ${row.path}: ${failed.length} ${kind}, e.g. ${(failed[0]!.message ?? "").slice(0, 300)}`);
    if (row.engineRestarted) console.log(`  ${row.path}: the engine was restarted during the row; its CPU and the sidecar's are unknown`);
  }
}

/** Throughput of each path as a share of the engine's own, one column per level: the issue's headline figure. */
export function printSummary(rows: LoadRow[]): void {
  const levels = [...new Set(rows.map((r) => r.concurrency))];
  const labels = [...new Set(rows.map((r) => r.label))];
  const cell = (label: string, c: number) => {
    const row = rows.find((r) => r.label === label && r.concurrency === c);
    const base = rows.find((r) => r.concurrency === c);
    if (!row || !base) return "";
    return row === base ? fmt(rate(row), 1) : `${fmt(rate(row) / rate(base), 2)}x`;
  };
  console.log("\nThroughput against the engine alone (engine row: its turns/s; others: their ratio to it)");
  console.log(`${"path".padEnd(17)} ${levels.map((c) => `c=${c}`.padStart(8)).join(" ")}`);
  for (const label of labels) console.log(`${label.padEnd(17)} ${levels.map((c) => cell(label, c).padStart(8)).join(" ")}`);
}
