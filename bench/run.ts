import os from "node:os";
import { parseArgs } from "node:util";
import { benchNubabel } from "../apps/nubabel/test/bench.js";
import { hasInfra } from "../apps/nubabel/test/fixtures/backends.js";
import { benchLevels, idleCpu, warmUp } from "./concurrent.js";
import type { Role } from "./cpu.js";
import { benchEndToEnd } from "./end-to-end.js";
import { benchFollowUp, type FollowUpCost, TURN_MS as FOLLOW_UP_TURN_MS } from "./follow-up.js";
import { printGoals } from "./goals.js";
import { benchPool } from "./pool.js";
import { CLK_TCK } from "./procfs.js";
import { killAll } from "./services.js";
import { soak } from "./soak.js";
import { startStack, tearDown, type Stack } from "./stack.js";
import { benchTracing } from "./tracing.js";
import { printLevel, printSummary, printTable, type LoadRow, type Row } from "./stats.js";

/**
 * `npm run bench [-- options]`: measures and prints; asserts nothing. Options, each also from the
 * environment:
 *   --levels 1,50,100,200  BENCH_LEVELS     concurrency levels of the side-by-side tables
 *   --rounds 2             BENCH_ROUNDS     turns per path at level c, each pass: max(rounds × c, samples)
 *   --passes 2             BENCH_PASSES     passes of every level, every other one in reverse path order,
 *                                           summed per path (so the engine's drift falls on every path alike)
 *   --samples 50           BENCH_SAMPLES    one-at-a-time samples (also a bare first argument), and
 *                                           follow-ups through Nubabel on a stand-in sidecar, Nubabel in
 *                                           its own process, then in this one; 0 skips those tables
 *   --pool 200             BENCH_POOL_TURNS new conversations, 50 at a time, through Nubabel with one
 *                                           sidecar, then with two (SIDECAR_URLS), each over 20 new
 *                                           organizations: turns/s of each and the ratio two / one; 0 skips it
 *   --soak 500             BENCH_SOAK_ORGS  new organizations, one new conversation each, 8 at a time,
 *                                           on one sidecar with its default engine bounds: the engine's
 *                                           RSS and /health's instances, RSS and recycles every 50; 0 skips it
 *   --tracing 20           BENCH_TRACING    one-at-a-time delegations with OpenTelemetry tracing off, then
 *                                           on (a new sidecar, Nubabel restarted, both exporting to a
 *                                           local OTLP receiver): p50 off, p50 on, ratio; 0 skips it
 *   --log-level warn       BENCH_LOG_LEVEL  LOG_LEVEL of Nubabel and the sidecar
 * With DATABASE_URL and REDIS_URL set, Nubabel and the sidecar run on them (a fresh database and
 * key prefix, removed afterwards) and PostgreSQL's and Redis's CPU is read too.
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { levels: { type: "string" }, rounds: { type: "string" }, passes: { type: "string" }, samples: { type: "string" }, pool: { type: "string" }, soak: { type: "string" }, tracing: { type: "string" }, "log-level": { type: "string" } },
});
const env = process.env;
const count = (name: string, text: string, min: number): number => {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`bench: ${name} must be a whole number ≥ ${min}, not "${text}"`);
  return n;
};
const levels = (values.levels ?? env.BENCH_LEVELS ?? "1,50,100,200")
  .split(",")
  .filter((s) => s.trim())
  .map((s) => count("--levels", s.trim(), 1));
const rounds = count("--rounds", values.rounds ?? env.BENCH_ROUNDS ?? "2", 1);
const passes = count("--passes", values.passes ?? env.BENCH_PASSES ?? "2", 1);
const samples = count("--samples", values.samples ?? positionals[0] ?? env.BENCH_SAMPLES ?? "50", 0);
const poolTurns = count("--pool", values.pool ?? env.BENCH_POOL_TURNS ?? "200", 0);
const soakOrgs = count("--soak", values.soak ?? env.BENCH_SOAK_ORGS ?? "500", 0);
const tracingSamples = count("--tracing", values.tracing ?? env.BENCH_TRACING ?? "20", 0);
const logLevel = values["log-level"] ?? env.BENCH_LOG_LEVEL ?? "warn";

let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) {
    killAll();
    process.exit(130);
  }
  interrupted = true;
  console.error("\nbench: interrupted; stopping the services and removing what the bench made (Ctrl-C again to kill them)");
  void tearDown().finally(() => process.exit(130));
});
process.on("SIGTERM", () => void tearDown().finally(() => process.exit(143)));
process.on("exit", killAll);

const t0 = performance.now();
let ok = true;
const measured: { levels: LoadRow[]; oneAtATime: Row[]; followUp?: FollowUpCost; internals: Row[] } = { levels: [], oneAtATime: [], internals: [] };
try {
  const stack = await startStack({ logLevel, maxConcurrency: Math.max(1, ...levels) });
  printHeader(stack);
  if (samples > 0) printTable(`One at a time, interleaved, N=${samples}`, (measured.oneAtATime = await benchEndToEnd(stack, samples)));
  if (levels.length) {
    await warmUp(stack);
    const idle = await idleCpu(stack);
    console.log(`\nIdle, nothing sent (CPU ms per second, the least of three 2 s readings): ${cpuList(stack.cpu.roles, idle.perSecond)}; the rest of the machine ${idle.otherPerSecond.toFixed(1)}`);
    const rows = await benchLevels(stack, { levels, rounds, passes, minTurns: Math.max(samples, 1) }, (c, level) => printLevel(c, level, stack.cpu.roles, idle.perSecond));
    printSummary((measured.levels = rows));
  }
  // After the tables above: it restarts Nubabel, which the CPU meter does not follow.
  if (tracingSamples > 0) await benchTracing(stack, tracingSamples);
  if (samples > 0) {
    const followUp = (measured.followUp = await benchFollowUp(stack, samples));
    printTable(`Follow-ups, Nubabel in its own process, a stand-in sidecar (${FOLLOW_UP_TURN_MS} ms a turn) and the client in this one, interleaved, N=${samples}`, followUp.rows);
    console.log(`  Nubabel's CPU per follow-up (${samples} in a row, from /proc): ${followUp.cpuMs.toFixed(2)} ms`);
  }
  // The pool first: the soak leaves the first sidecar's engine loaded with its organizations.
  if (poolTurns > 0) await benchPool(stack, { turns: poolTurns, concurrency: Math.min(50, poolTurns), organizations: Math.min(20, poolTurns) });
  if (soakOrgs > 0) await soak(stack, soakOrgs);
  for (const service of [stack.nubabel, stack.sidecar]) {
    const { count: lines, samples: examples } = service.logged();
    console.log(`\n${service.name} logged ${lines} line${lines === 1 ? "" : "s"} at warn or above${lines ? `, e.g. ${examples.join(" | ")}` : ""}`);
  }
} catch (err) {
  ok = false;
  console.error(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await tearDown();
}
if (ok && samples > 0) {
  if (hasInfra) printTable(`Nubabel internals, in this process with a stand-in sidecar (PostgreSQL + Redis), N=${samples}`, (measured.internals = await benchNubabel(samples)));
  else console.log("\n(Nubabel internals need DATABASE_URL and REDIS_URL; skipped)");
}
if (ok) printGoals(measured);
console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
process.exit(ok ? 0 : 1);

function printHeader(stack: Stack): void {
  const storage =
    stack.storage === "shared"
      ? "PostgreSQL (a fresh database) and Redis (a fresh key prefix), both services"
      : "embedded (PGlite in Nubabel's process, in-process bus; the sidecar in memory)";
  console.log(
    [
      `npm run bench: one instant scripted model ("ok", one chunk), served by this process; ${os.availableParallelism()} cores, Node ${process.version}`,
      `  Nubabel (pid ${stack.nubabel.pid}) and the sidecar (pid ${stack.sidecar.pid}) run as child processes with LOG_LEVEL=${stack.logLevel};`,
      `  the engine is the sidecar's opencode child (pid ${stack.enginePid}). Storage: ${storage}.`,
      "  Limits raised out of the way: ORG_MAX_RUNNING, ORG_MAX_QUEUED, API_RATE_LIMIT_PER_KEY, CALLBACK_RATE_LIMIT_*. Every turn is a new conversation.",
      `  Each level runs its paths ${passes === 1 ? "once" : `${passes} times, every other time in reverse order; a row sums its path's passes`}.`,
      `  CPU: utime+stime from /proc/<pid>/stat (reaped children included), in steps of ${1000 / CLK_TCK} ms, from a row's start until the model`,
      "  went quiet after it, less what the process uses idle over as long, per answered turn.",
      "  engine: the opencode process; sidecar, nubabel: their processes;",
      ...(stack.storage === "shared"
        ? ["  pg: the backends of Nubabel's database and the server's background processes; redis: redis-server (shared: others' use counts too);"]
        : []),
      "  bench: this process (load generator and model server); loop: how busy its event loop was;",
      "  ours: all of these together (idle included), other: the rest of the machine, as shares of all its cores. Timeout: 60 s a turn.",
    ].join("\n"),
  );
}

function cpuList(roles: Role[], ms: Record<Role, number>): string {
  return roles.map((role) => `${role} ${Number.isFinite(ms[role]) ? ms[role].toFixed(1) : "n/a"}`).join(", ");
}
