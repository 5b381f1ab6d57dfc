import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/**
 * What the bench reads from Linux's /proc: who is whose child, how much CPU each process has
 * used, and how much memory it holds. Linux only; elsewhere `processTable` throws.
 */

/** Clock ticks per second of /proc's CPU times (`getconf CLK_TCK`; 100 on every Linux we know). */
export const CLK_TCK = clockTicks();

export interface Proc {
  pid: number;
  ppid: number;
  /** The executable's name, cut at 15 characters (`opencode.exe`, `postgres`, `redis-server`). */
  comm: string;
  /** utime + stime, in clock ticks. */
  own: number;
  /**
   * `own` + cutime + cstime: its CPU and that of the children it has reaped. Summed over the live
   * processes of a tree, every process that ever ran in it counts once.
   */
  ticks: number;
}

/** Every process now, by pid (one read of /proc; a process gone meanwhile is left out). */
export function processTable(): Map<number, Proc> {
  const table = new Map<number, Proc>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const proc = readStat(Number(name));
    if (proc) table.set(proc.pid, proc);
  }
  return table;
}

/** `root` and everything below it, as pids (empty when `root` is gone). */
export function subtree(table: Map<number, Proc>, root: number): number[] {
  if (!table.has(root)) return [];
  const children = new Map<number, number[]>();
  for (const p of table.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** CPU ticks of a whole tree, the processes in `except` (and their trees) left out. */
export function treeTicks(table: Map<number, Proc>, root: number, except: number[] = []): number {
  const skip = new Set(except.flatMap((pid) => subtree(table, pid)));
  return subtree(table, root).reduce((sum, pid) => (skip.has(pid) ? sum : sum + table.get(pid)!.ticks), 0);
}

/** CPU ticks of every process with this executable name (a server's workers included). */
export function ticksByName(table: Map<number, Proc>, comm: string): { ticks: number; count: number } {
  const procs = [...table.values()].filter((p) => p.comm === comm);
  return { ticks: procs.reduce((sum, p) => sum + p.ticks, 0), count: procs.length };
}

/** The shared work of a PostgreSQL server, whichever database caused it. */
const POSTGRES_BACKGROUND = /: (checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|archiver|stats collector)\s*$/;

/**
 * CPU ticks of the PostgreSQL processes working for `database`, by pid: its backends (autovacuum's
 * included), the server's background processes and the postmaster itself (without the backends of
 * every database it reaped). A backend that ends between two readings takes its last ticks along.
 */
export function postgresTicks(table: Map<number, Proc>, database: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const proc of table.values()) {
    if (proc.comm !== "postgres") continue;
    if (table.get(proc.ppid)?.comm !== "postgres") {
      out.set(proc.pid, proc.own);
      continue;
    }
    let title: string;
    try {
      title = commandLine(proc.pid).join(" ");
    } catch {
      continue;
    }
    if (title.split(" ").includes(database) || POSTGRES_BACKGROUND.test(title)) out.set(proc.pid, proc.ticks);
  }
  return out;
}

/** The topmost process below `root` whose name starts with `prefix`. */
export function findBelow(table: Map<number, Proc>, root: number, prefix: string): number | undefined {
  return subtree(table, root).find((pid) => pid !== root && table.get(pid)!.comm.startsWith(prefix));
}

/** A process's resident memory in bytes (VmRSS), or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** A process's command line, argument by argument. */
export function commandLine(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
}

/** One variable of a process's environment as it was started (needs the same user, or root). */
export function environmentOf(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/** One process now, from /proc/<pid>/stat; undefined when it is gone. */
export function readStat(pid: number): Proc | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The name may hold spaces and parentheses: it ends at the last ")".
  const close = text.lastIndexOf(")");
  // From field 3 of proc(5): state, ppid (4), …, utime (14), stime (15), cutime (16), cstime (17).
  const rest = text.slice(close + 2).split(" ");
  const field = (n: number) => Number(rest[n - 3]);
  const own = field(14) + field(15);
  return { pid, ppid: field(4), comm: text.slice(text.indexOf("(") + 1, close), own, ticks: own + field(16) + field(17) };
}

/** CPU ticks the whole machine has spent busy (all cores, from /proc/stat): user, nice, system, irq, softirq, steal. */
export function machineBusyTicks(): number {
  const [user, nice, system, , , irq, softirq, steal] = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

function clockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}
