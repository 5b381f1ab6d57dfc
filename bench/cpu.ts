import { CLK_TCK, findBelow, processTable, ticksByName, treeTicks } from "./procfs.js";

/** The processes whose CPU the bench counts, in the order it prints them. */
export const ROLES = ["engine", "sidecar", "nubabel", "postgres", "redis", "bench"] as const;
export type Role = (typeof ROLES)[number];

/** CPU milliseconds used so far, per process; NaN where it could not be read. */
export interface CpuSample {
  at: number;
  enginePid: number | undefined;
  ms: Record<Role, number>;
}

/**
 * Reads the CPU the services have used, from /proc: the engine (the sidecar's `opencode` child and
 * anything below it), the sidecar (its tree without the engine), Nubabel (its tree), PostgreSQL
 * (every `postgres` process of the machine: the whole server, reaped backends included),
 * Redis (`redis-server`) and the bench process itself (the load generator and the model server).
 */
export class CpuMeter {
  /** The processes measured in this run: PostgreSQL and Redis only when Nubabel uses them. */
  readonly roles: Role[];

  constructor(
    private readonly pids: { sidecar: number; nubabel: number },
    shared: boolean,
  ) {
    this.roles = ROLES.filter((role) => shared || (role !== "postgres" && role !== "redis"));
  }

  sample(): CpuSample {
    const table = processTable();
    const ms = (ticks: number) => (ticks * 1000) / CLK_TCK;
    const server = (comm: string) => {
      const { ticks, count } = ticksByName(table, comm);
      return count ? ms(ticks) : NaN;
    };
    const engine = findBelow(table, this.pids.sidecar, "opencode");
    const own = process.cpuUsage();
    return {
      at: performance.now(),
      enginePid: engine,
      ms: {
        engine: engine === undefined ? NaN : ms(treeTicks(table, engine)),
        sidecar: ms(treeTicks(table, this.pids.sidecar, engine === undefined ? [] : [engine])),
        nubabel: ms(treeTicks(table, this.pids.nubabel)),
        postgres: this.roles.includes("postgres") ? server("postgres") : NaN,
        redis: this.roles.includes("redis") ? server("redis-server") : NaN,
        bench: (own.user + own.system) / 1000,
      },
    };
  }
}

/** What each process used from `a` to `b`, in ms; the engine's and sidecar's NaN if the engine was restarted in between. */
export function cpuBetween(a: CpuSample, b: CpuSample): Record<Role, number> {
  const restarted = a.enginePid !== b.enginePid;
  return Object.fromEntries(ROLES.map((role) => [role, restarted && (role === "engine" || role === "sidecar") ? NaN : b.ms[role] - a.ms[role]])) as Record<Role, number>;
}
