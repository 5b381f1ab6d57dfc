import { setTimeout as sleep } from "node:timers/promises";
import type { SidecarHealth } from "@nubabel/contracts";
import { parseEnv } from "../apps/opencode-sidecar/src/config/env.js";
import { drive } from "./concurrent.js";
import { findBelow, processTable, rssBytes } from "./procfs.js";
import { settle, type Organization, type Stack } from "./stack.js";
import { percentile, type Turn } from "./stats.js";
import { waitingTurn, type TurnFn } from "./turns.js";

/** What the engine held before instances were bounded (issue 12), the figure to compare with. */
const BEFORE = "before bounded instances: 3.5 GB at 100 organizations";
/** How long the last reading waits with nothing sent: past one of the sidecar's sweeps. */
const IDLE_MS = 35_000;

/**
 * The soak: `total` new organizations, each with its own API key, each running one new
 * conversation through Nubabel (waiting), `concurrency` at a time, on the one sidecar with its
 * default engine bounds. Every `every` organizations it prints the engine's resident memory (the
 * sidecar's `opencode` process, from /proc: a recycled engine is a new process), what the sidecar's
 * `/health` says (live instances, RSS, recycles), the errors so far, and the block's turns/s and
 * median turn; then once more after `IDLE_MS` with nothing sent, when an engine over its bound
 * should have been recycled.
 */
export async function soak(stack: Stack, total: number, { every = 50, concurrency = 8 } = {}): Promise<void> {
  const engine = parseEnv(stack.sidecar.env);
  console.log(
    [
      `\nSoak: ${total} new organizations, one new conversation each through Nubabel (waiting), ${concurrency} at a time, on one sidecar.`,
      `  Engine bounds (the sidecar's defaults): ENGINE_MAX_INSTANCES=${engine.ENGINE_MAX_INSTANCES}, ENGINE_INSTANCE_IDLE_MS=${engine.ENGINE_INSTANCE_IDLE_MS}, ENGINE_MAX_RSS_MB=${engine.ENGINE_MAX_RSS_MB}.`,
      "  engine RSS: VmRSS of the sidecar's opencode process; instances, RSS, recycles (planned) and restarts (all): the sidecar's GET /health,",
      "  read once the engine runs (a recycle may be under way when a block ends).",
      `  For comparison, ${BEFORE}.`,
      `${"orgs".padStart(6)} ${"engine RSS".padStart(11)} ${"instances".padStart(9)} ${"/health RSS".padStart(11)} ${"recycles".padStart(8)} ${"restarts".padStart(8)} ${"errors".padStart(6)} ${"turns/s".padStart(8)} ${"p50 s".padStart(6)}`,
    ].join("\n"),
  );
  const failures: Turn[] = [];
  let peak = 0;
  let done = 0;
  const report = async (label: string, block?: { turns: Turn[]; wallMs: number }) => {
    // A recycle under way has no engine to read: the reading waits for the new one.
    const health = await sidecarHealth(stack);
    const rss = engineRss(stack);
    peak = Math.max(peak, rss ?? 0);
    const cells = [
      label.padStart(6),
      mb(rss).padStart(11),
      String(health?.opencode.instances ?? "n/a").padStart(9),
      mb(health?.opencode.rssBytes).padStart(11),
      String(health?.opencode.recycles ?? "n/a").padStart(8),
      String(health?.opencode.restarts ?? "n/a").padStart(8),
      String(failures.length).padStart(6),
      (block ? ((answered(block.turns).length * 1000) / block.wallMs).toFixed(1) : "").padStart(8),
      (block && answered(block.turns).length ? (percentile(answered(block.turns), 50) / 1000).toFixed(1) : "").padStart(6),
    ];
    console.log(cells.join(" "));
  };

  await report("0");
  while (done < total) {
    const size = Math.min(every, total - done);
    const made = await stack.organizations(Array.from({ length: size }, (_, k) => `Soak ${done + k + 1}`));
    const block = await drive(concurrency, size, eachOnce(stack, made));
    failures.push(...block.turns.filter((t) => t.failure));
    done += size;
    // The engine's aftermath (titles) belongs to this block, not the next reading.
    await settle(stack.model);
    await report(String(done), block);
    if (block.turns.every((t) => t.failure)) {
      console.log("  Every turn of that block failed: the soak stops here.");
      break;
    }
  }
  // The engine is recycled only when idle at one of the sidecar's sweeps (every 30 s at most).
  await sleep(IDLE_MS);
  await report("idle");
  const examples = [...new Set(failures.map((t) => `${t.failure}: ${t.message?.slice(0, 160)}`))].slice(0, 3);
  console.log(`  Largest engine RSS read ${mb(peak)} (${BEFORE}); ${failures.length} of ${done} turns failed${examples.length ? `, e.g. ${examples.join(" | ")}` : ""}.`);
}

const answered = (turns: Turn[]) => turns.flatMap((t) => (t.ms === undefined ? [] : [t.ms]));

/** One turn per organization, in order. */
function eachOnce(stack: Stack, organizations: Organization[]): TurnFn {
  let next = 0;
  return (signal) => waitingTurn({ nubabel: stack.nubabel, apiKey: organizations[next++]!.apiKey })(signal);
}

function engineRss(stack: Stack): number | undefined {
  const pid = findBelow(processTable(), stack.sidecar.pid, "opencode");
  return pid === undefined ? undefined : rssBytes(pid);
}

/** The sidecar's `/health` once its engine runs (at most `waitMs`, then as it is); undefined when it does not answer. */
async function sidecarHealth(stack: Stack, waitMs = 60_000): Promise<SidecarHealth | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    let health: SidecarHealth | undefined;
    try {
      const res = await fetch(`${stack.sidecar.url}/health`, { signal: AbortSignal.timeout(5_000) });
      health = (await res.json()) as SidecarHealth;
    } catch {
      // Not answering: as good as an engine that does not run.
    }
    if (health?.opencode.state === "running" || Date.now() > deadline) return health;
    await sleep(250);
  }
}

function mb(bytes: number | undefined): string {
  return bytes === undefined ? "n/a" : `${Math.round(bytes / 1048576)} MB`;
}
