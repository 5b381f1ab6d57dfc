import { benchNubabel } from "../apps/nubabel/test/bench.js";
import { hasInfra } from "../apps/nubabel/test/fixtures/backends.js";
import { benchEndToEnd } from "./end-to-end.js";
import { printTable } from "./stats.js";

/**
 * `npm run bench [-- N]`: measures and prints; asserts nothing. N is the sample count (default 30).
 * With DATABASE_URL and REDIS_URL set, Nubabel's storage and fan-out rows are measured too.
 */
const n = Number(process.argv[2] ?? 30);

printTable(`New conversation, instant scripted model, N=${n}`, await benchEndToEnd(n));
if (hasInfra) printTable(`Nubabel internals (PostgreSQL + Redis), N=${n}`, await benchNubabel(n));
else console.log("\n(Nubabel internals need DATABASE_URL and REDIS_URL; skipped)");
process.exit(0);
