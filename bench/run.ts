import { benchNubabel } from "../apps/nubabel/test/bench.js";
import { hasInfra } from "../apps/nubabel/test/fixtures/backends.js";
import { benchConcurrent } from "./concurrent.js";
import { benchEndToEnd } from "./end-to-end.js";
import { startStack } from "./stack.js";
import { printBursts, printTable } from "./stats.js";

/**
 * `npm run bench [-- N [C]]`: measures and prints; asserts nothing. N is the sample count of the
 * one-at-a-time tables (default 20); C the number of concurrent runs (default 100, or
 * BENCH_CONCURRENCY; 0 skips that section). With DATABASE_URL and REDIS_URL set, Nubabel runs on
 * them and its storage and fan-out rows are measured too.
 */
const n = Number(process.argv[2] ?? 20);
const c = Number(process.argv[3] ?? process.env.BENCH_CONCURRENCY ?? 100);
const t0 = performance.now();

const stack = await startStack();
try {
  printTable(`New conversation, instant scripted model, N=${n}`, await benchEndToEnd(stack, n));
  if (c > 0) printBursts(`${c} concurrent runs, new conversations, instant scripted model (same engine)`, await benchConcurrent(stack, c));
} finally {
  await stack.close();
}
if (hasInfra) printTable(`Nubabel internals (PostgreSQL + Redis), N=${n}`, await benchNubabel(n));
else console.log("\n(Nubabel internals need DATABASE_URL and REDIS_URL; skipped)");
console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
process.exit(0);
