import { benchSidecar } from "./sidecar.js";
import { printTable } from "./stats.js";

/** `npm run bench [-- N]`: measures and prints; asserts nothing. N is the sample count (default 30). */
const n = Number(process.argv[2] ?? 30);

const sidecarRows = await benchSidecar(n);
printTable(`Delegation latency, instant scripted model, N=${n}`, sidecarRows);
process.exit(0);
