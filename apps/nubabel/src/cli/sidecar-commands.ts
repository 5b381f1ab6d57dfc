import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { parseEnv } from "../config/env.js";

export const SIDECAR_USAGE = `  nubabel sidecars status          each sidecar of SIDECAR_URLS (or SIDECAR_URL): state, draining, runs, capacity
  nubabel sidecars drain URL [--wait] [--timeout SECONDS] [--undo]
                                   no new sessions or runs on that sidecar (they go to the others, a moved
                                   session seeded with its history); running turns finish. --wait returns
                                   once none runs there (then it may stop); --undo serves again`;

type Out = { write(text: string): unknown };

/**
 * `nubabel sidecars …`: an operator's view of the pool and the deploy lever. Speaks to the
 * sidecars directly, signed with `SIDECAR_SHARED_SECRET`, so it needs no running Nubabel.
 */
export async function runSidecarCli(argv: string[], source: Record<string, string | undefined>, out: Out, err: Out): Promise<number> {
  const [, verb, ...rest] = argv;
  const usage = (why: string) => (err.write(`${why}\nusage:\n${SIDECAR_USAGE}\n`), 2);
  if (verb !== "status" && verb !== "drain") return usage(`unknown command: sidecars ${verb ?? ""}`.trim());
  let env;
  try {
    env = parseEnv(source);
  } catch (e) {
    err.write(`${(e as Error).message}\n`);
    return 2;
  }
  // Loaded only for a command that asks the sidecars (see main.ts).
  const [{ pino }, { SidecarClient, SidecarUnavailable }] = await Promise.all([import("pino"), import("../sidecar/index.js")]);
  const client = new SidecarClient(
    { secret: env.SIDECAR_SHARED_SECRET, timeoutMs: env.SIDECAR_REQUEST_TIMEOUT_MS, healthTimeoutMs: env.SIDECAR_HEALTH_TIMEOUT_MS, breakerThreshold: 1_000, breakerResetMs: 1 },
    pino({ level: "silent" }),
  );
  const state = async (url: string) => {
    try {
      const h = await client.health(url);
      return { url, status: h.status, draining: Boolean(h.draining), runs: h.load?.runs ?? null, capacity: h.load?.capacity ?? null, engine: h.opencode.state };
    } catch (e) {
      return { url, status: "unreachable", error: (e as Error).message };
    }
  };
  try {
    if (verb === "status") {
      parseArgs({ args: rest, options: {}, strict: true });
      out.write(`${JSON.stringify(await Promise.all(env.SIDECAR_URLS.map(state)), null, 2)}\n`);
      return 0;
    }
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { wait: { type: "boolean" }, undo: { type: "boolean" }, timeout: { type: "string" } },
      strict: true,
    });
    const url = positionals[0];
    if (!url || positionals.length > 1 || !URL.canParse(url)) return usage("sidecars drain needs the sidecar's URL (one of SIDECAR_URLS)");
    const timeoutS = Number(values.timeout ?? 600);
    if (!Number.isFinite(timeoutS) || timeoutS <= 0) return usage("--timeout must be a number of seconds above 0");
    let drained = await client.drain(url, !values.undo);
    out.write(`${JSON.stringify({ url, ...drained })}\n`);
    if (!values.wait || values.undo) return 0;
    const deadline = Date.now() + timeoutS * 1000;
    // Idle means no turn runs there and every answer reached Nubabel: stopping it then loses nothing.
    while (drained.runs > 0 || drained.deliveries > 0) {
      if (Date.now() > deadline) {
        err.write(`nubabel: ${drained.runs} run(s) still running and ${drained.deliveries} answer(s) undelivered on ${url} after ${timeoutS} s\n`);
        return 1;
      }
      await sleep(1_000);
      // Asking again is idempotent and answers with what still runs.
      drained = await client.drain(url, true);
    }
    out.write(`${JSON.stringify({ url, ...drained, idle: true })}\n`);
    return 0;
  } catch (e) {
    const why = e instanceof SidecarUnavailable ? `sidecar ${e.data.sidecarUrl} unavailable: ${e.data.reason}` : (e as Error).message;
    err.write(`nubabel: ${why}\n`);
    return 1;
  }
}
