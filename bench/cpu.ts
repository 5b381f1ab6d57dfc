import { CLK_TCK, findBelow, machineBusyTicks, postgresTicks, processTable, ticksByName, treeTicks } from "./procfs.js";

/** The processes whose CPU the bench counts, in the order it prints them. */
export const ROLES = ["engine", "sidecar", "nubabel", "postgres", "redis", "bench"] as const;
export type Role = (typeof ROLES)[number];

/** CPU used so far, per process, in ms; NaN where it could not be read. */
export interface CpuSample {
  at: number;
  enginePid: number | undefined;
  ms: Record<Role, number>;
  /** PostgreSQL's processes one by one: backends come and go between samples. */
  postgres: Map<number, number>;
  /** The whole machine, every core. */
  machine: number;
}

/** What each process used between two samples, and what the rest of the machine did meanwhile. */
export interface CpuUse {
  ms: Record<Role, number>;
  /** CPU ms of everything else on the machine (other sessions, tests): large means a disturbed row. */
  otherMs: number;
  wallMs: number;
}

const toMs = (ticks: number) => (ticks * 1000) / CLK_TCK;

/**
 * Reads the CPU the services have used, from /proc: the engine (the sidecar's `opencode` child and
 * anything below it), the sidecar (its tree without the engine), Nubabel (its tree), PostgreSQL
 * (the backends of Nubabel's database and the server's background processes), Redis
 * (`redis-server`, shared with whatever else uses it) and the bench process itself (the load
 * generator and the model server).
 */
export class CpuMeter {
  /** The processes measured in this run: PostgreSQL and Redis only when Nubabel uses them. */
  readonly roles: Role[];

  constructor(
    private readonly pids: { sidecar: number; nubabel: number },
    /** Nubabel's PostgreSQL database, when it uses one (then Redis too). */
    private readonly database: string | undefined,
  ) {
    this.roles = ROLES.filter((role) => database || (role !== "postgres" && role !== "redis"));
  }

  sample(): CpuSample {
    const table = processTable();
    const engine = findBelow(table, this.pids.sidecar, "opencode");
    const redis = ticksByName(table, "redis-server");
    const own = process.cpuUsage();
    return {
      at: performance.now(),
      enginePid: engine,
      ms: {
        engine: engine === undefined ? NaN : toMs(treeTicks(table, engine)),
        sidecar: toMs(treeTicks(table, this.pids.sidecar, engine === undefined ? [] : [engine])),
        nubabel: toMs(treeTicks(table, this.pids.nubabel)),
        postgres: NaN,
        redis: this.database && redis.count ? toMs(redis.ticks) : NaN,
        bench: (own.user + own.system) / 1000,
      },
      postgres: this.database ? postgresTicks(table, this.database) : new Map(),
      machine: toMs(machineBusyTicks()),
    };
  }
}

/** Between two samples; the engine's and sidecar's NaN if the engine was restarted in between (its time moved). */
export function cpuBetween(a: CpuSample, b: CpuSample): CpuUse {
  const restarted = a.enginePid !== b.enginePid;
  const ms = Object.fromEntries(ROLES.map((role) => [role, restarted && (role === "engine" || role === "sidecar") ? NaN : b.ms[role] - a.ms[role]])) as Record<Role, number>;
  if (b.postgres.size) ms.postgres = toMs([...b.postgres].reduce((sum, [pid, ticks]) => sum + ticks - (a.postgres.get(pid) ?? 0), 0));
  const ours = Object.values(ms).reduce((sum, v) => sum + (Number.isFinite(v) ? v : 0), 0);
  return { ms, otherMs: Math.max(0, b.machine - a.machine - ours), wallMs: b.at - a.at };
}
