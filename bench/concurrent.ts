import { setTimeout as sleep } from "node:timers/promises";
import { cpuBetween, type Role } from "./cpu.js";
import { settle, type Stack } from "./stack.js";
import type { LoadRow, Turn } from "./stats.js";
import { DEADLINE_MS, type Path, paths, TurnError, type TurnFn } from "./turns.js";

export interface LevelOptions {
  /** Concurrency levels, in the order run. */
  levels: number[];
  /** Turns per path at concurrency c, each pass: max(rounds × c, minTurns). */
  rounds: number;
  minTurns: number;
  /**
   * Rows per path and level, every other pass in reverse order (engine first, then last) and summed:
   * the engine's cost per turn drifts over minutes, and a path always run last would carry it.
   */
  passes: number;
}

/** Runs every path a few times (engine instance, JIT, pools), then lets the engine's aftermath pass. */
export async function warmUp(stack: Stack): Promise<void> {
  for (let i = 0; i < 3; i++) for (const path of paths(stack)) await path.turn(AbortSignal.timeout(DEADLINE_MS));
  await settle(stack.model);
}

/**
 * For each level c, each path in turn (the engine alone first: the baseline) runs
 * max(rounds × c, minTurns) new conversations, c at a time (closed loop: a turn that ends makes
 * room for the next), on the same engine; then again in reverse order, `passes` times in all, and
 * each path's passes are summed into its row (turns, time and CPU). The CPU every process used is
 * read before a pass starts and after the model went quiet after it (so its aftermath, the engine's
 * title requests and late callbacks, counts too). `report` gets each level's rows when measured.
 */
export async function benchLevels(stack: Stack, options: LevelOptions, report: (concurrency: number, rows: LoadRow[]) => void): Promise<LoadRow[]> {
  const all = paths(stack);
  const rows: LoadRow[] = [];
  for (const concurrency of options.levels) {
    const level = new Map<string, LoadRow>();
    for (let pass = 0; pass < options.passes; pass++) {
      for (const path of pass % 2 ? [...all].reverse() : all) {
        const row = await measure(stack, path, concurrency, Math.max(options.rounds * concurrency, options.minTurns));
        const earlier = level.get(path.name);
        level.set(path.name, earlier ? sum(earlier, row) : row);
      }
    }
    // In the paths' order, the engine's first: the base of each ratio.
    const measured = all.map((path) => level.get(path.name)!);
    report(concurrency, measured);
    rows.push(...measured);
  }
  return rows;
}

/** One pass of one path at one level. */
async function measure(stack: Stack, path: Path, concurrency: number, total: number): Promise<LoadRow> {
  await settle(stack.model);
  const before = stack.cpu.sample();
  const loop = performance.eventLoopUtilization();
  const { turns, wallMs } = await drive(concurrency, total, path.turn);
  const loopBusy = performance.eventLoopUtilization(loop).utilization;
  await settle(stack.model);
  const after = stack.cpu.sample();
  await path.confirm?.(turns);
  // A circuit the pass opened would fail the next one for a reason that is not its own.
  if (path.label.startsWith("Nubabel") && turns.some((t) => t.failure)) await sleep(stack.breakerResetMs);
  return { path: path.name, label: path.label, concurrency, turns, wallMs, loopBusy, cpu: cpuBetween(before, after), engineRestarted: before.enginePid !== after.enginePid };
}

/** Two passes of a path as one row: turns over the sum of their times, CPU summed. */
function sum(a: LoadRow, b: LoadRow): LoadRow {
  const wallMs = a.wallMs + b.wallMs;
  const ms = Object.fromEntries(Object.keys(a.cpu.ms).map((role) => [role, a.cpu.ms[role as Role] + b.cpu.ms[role as Role]])) as Record<Role, number>;
  return {
    ...a,
    turns: [...a.turns, ...b.turns],
    wallMs,
    loopBusy: (a.loopBusy * a.wallMs + b.loopBusy * b.wallMs) / wallMs,
    cpu: { ms, otherMs: a.cpu.otherMs + b.cpu.otherMs, wallMs: a.cpu.wallMs + b.cpu.wallMs },
    engineRestarted: a.engineRestarted || b.engineRestarted,
  };
}

/**
 * CPU ms per second each process (and the rest of the machine) uses with nothing sent: the floor
 * under every row. The least of `windows` readings of `ms` each, so a stray burst (a GC, a timer)
 * is not taken for the floor.
 */
export async function idleCpu(stack: Stack, windows = 3, ms = 2_000): Promise<{ perSecond: Record<Role, number>; otherPerSecond: number }> {
  await settle(stack.model);
  const perSecond = Object.fromEntries(stack.cpu.roles.map((role) => [role, Infinity])) as Record<Role, number>;
  let otherPerSecond = Infinity;
  for (let i = 0; i < windows; i++) {
    const before = stack.cpu.sample();
    await sleep(ms);
    const { ms: used, otherMs, wallMs } = cpuBetween(before, stack.cpu.sample());
    for (const role of stack.cpu.roles) perSecond[role] = Math.min(perSecond[role], (used[role] * 1000) / wallMs);
    otherPerSecond = Math.min(otherPerSecond, (otherMs * 1000) / wallMs);
  }
  return { perSecond, otherPerSecond };
}

/** `total` turns, `concurrency` at a time; each timed alone, the whole from the first start to the last end. */
export async function drive(concurrency: number, total: number, turn: TurnFn): Promise<{ turns: Turn[]; wallMs: number }> {
  const turns: Turn[] = [];
  let started = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (started < total) {
      started++;
      turns.push(await timed(turn));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { turns, wallMs: performance.now() - t0 };
}

async function timed(turn: TurnFn): Promise<Turn> {
  const start = performance.now();
  const signal = AbortSignal.timeout(DEADLINE_MS);
  try {
    const id = await turn(signal);
    return { ms: performance.now() - start, ...(id ? { id } : {}) };
  } catch (err) {
    if (err instanceof TurnError) return { failure: err.kind, message: err.message };
    const message = err instanceof Error ? err.message : JSON.stringify(err);
    return { failure: signal.aborted ? "timeout" : "http", message };
  }
}
