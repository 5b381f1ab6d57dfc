/**
 * `npm start`: Nubabel and the OpenCode sidecar together on this machine, embedded defaults
 * included. One command, every log (prefixed), everything stopped on Ctrl-C / SIGTERM (and waited
 * for), and `ready` with the URLs plus the development API key printed once Nubabel's `/readyz` and
 * every sidecar's `/health` say ready: the database and Redis answer and each sidecar's engine
 * runs, so a delegation sent then works.
 *
 * Environment: NUBABEL_PORT (3000), SIDECAR_PORT (3001), SIDECAR_SHARED_SECRET (generated for
 * this run when unset and given to all), NUBABEL_URL (what the sidecars call back; defaults to
 * Nubabel's loopback URL), SIDECAR_URL (with one sidecar: where Nubabel reaches it), START_READY_TIMEOUT_MS
 * (120000: not ready by then → all stopped, exit 1); everything else passes through to every service.
 *
 * SIDECARS=N (1 to 8; 1 when unset) starts N sidecars and gives Nubabel all of them (SIDECAR_URLS).
 * Sidecar i listens on SIDECAR_PORT+i-1 and keeps its data in SIDECAR_DATA_DIR (`.data/sidecar`),
 * `-i` appended from the second on; with REDIS_URL set, its keys under REDIS_PREFIX (`sidecar:`)
 * likewise (`sidecar-2:`). Their logs say `[sidecar-1]`, `[sidecar-2]`, …
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Processes, Webhooks } from "@nubabel/contracts";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const env = process.env;
const nubabelPort = env.NUBABEL_PORT || "3000";
const nubabelUrl = env.NUBABEL_URL || `http://127.0.0.1:${nubabelPort}`;
const generated = !env.SIDECAR_SHARED_SECRET;
// Generated per run: all children get it, nothing else needs it, and nothing stores it.
const secret = env.SIDECAR_SHARED_SECRET || Webhooks.generateSecret();
const color = process.stdout.isTTY;
const readyTimeoutMs = Number(env.START_READY_TIMEOUT_MS) || 120_000;
/** How long to wait quietly before saying what `ready` still waits for, and how often after. */
const patienceMs = 5_000;
/** Bound on stopping: past the services' own grace periods (10 s each by default), then SIGKILL. */
const stopTimeoutMs = 20_000;

const count = Number(env.SIDECARS || "1");
const firstPort = Number(env.SIDECAR_PORT || "3001");
if (!Number.isInteger(count) || count < 1 || count > 8) fail(`SIDECARS must be a whole number from 1 to 8, not "${env.SIDECARS}"`);
if (!Number.isInteger(firstPort) || firstPort < 1 || firstPort + count - 1 > 65535) fail(`SIDECAR_PORT must be a port number (1 to ${65536 - count}), not "${env.SIDECAR_PORT}"`);

interface Service {
  name: string;
  /** ANSI colour of its log prefix. */
  tint: number;
  entry: string;
  url: string;
  env: Record<string, string>;
}

/** The i-th of several (1-based): the first keeps `base`, the others get `-i` before a trailing ":" (`sidecar:` → `sidecar-2:`). */
const nth = (base: string, i: number) => (i === 1 ? base : base.replace(/(:?)$/, `-${i}$1`));
// As the sidecar resolves it (config/env.ts), so that the first one's folder is the one a single sidecar uses.
const sidecarDataDir = path.resolve(env.INIT_CWD || root, env.SIDECAR_DATA_DIR || ".data/sidecar");
const sidecars = Array.from({ length: count }, (_, k): Service => {
  const i = k + 1;
  const port = String(firstPort + k);
  return {
    name: count === 1 ? "sidecar" : `sidecar-${i}`,
    tint: [35, 33, 32, 34, 31, 95, 93, 92][k]!,
    entry: "apps/opencode-sidecar/src/main.ts",
    url: count === 1 && env.SIDECAR_URL ? env.SIDECAR_URL : `http://127.0.0.1:${port}`,
    env: {
      SIDECAR_PORT: port,
      SIDECAR_DATA_DIR: nth(sidecarDataDir, i),
      ...(env.REDIS_URL ? { REDIS_PREFIX: nth(env.REDIS_PREFIX || "sidecar:", i) } : {}),
      NUBABEL_CALLBACK_URL: nubabelUrl,
      SIDECAR_SHARED_SECRET: secret,
    },
  };
});
const nubabel: Service = {
  name: "nubabel",
  tint: 36,
  entry: "apps/nubabel/src/main.ts",
  url: nubabelUrl,
  // Set even for one sidecar: it wins over whatever SIDECAR_URL(S) the environment holds.
  env: { NUBABEL_PORT: nubabelPort, SIDECAR_URLS: sidecars.map((sidecar) => sidecar.url).join(","), SIDECAR_SHARED_SECRET: secret },
};
const services = [nubabel, ...sidecars];

// Nubabel's own secrets stay out of the sidecar's process (and so out of anything it spawns).
const nubabelOnly = new Set(["NUBABEL_ENCRYPTION_KEY", "NUBABEL_TOKEN_SECRET", "DATABASE_URL"]);
const inherited = (service: Service) => (service === nubabel ? env : Object.fromEntries(Object.entries(env).filter(([k]) => !nubabelOnly.has(k))));

function say(line: string): void {
  process.stdout.write(`${color ? "\x1b[1m" : ""}[start]${color ? "\x1b[0m" : ""} ${line}\n`);
}

function fail(message: string): never {
  say(message);
  process.exit(1);
}

function run(service: Service): ChildProcess {
  // Straight to node (no npm in between), so signals reach the service itself. Each in its own
  // process group: Ctrl-C reaches this script only, which stops the services in order, and a last
  // resort kills a service's whole group, a sidecar's OpenCode engine included. Should this
  // script itself die (`kill -9`), each service gets SIGTERM and stops as it would on Ctrl-C.
  const node = Processes.tiedToParent(process.execPath, ["--import", "tsx", service.entry], "TERM");
  const child = spawn(node.command, node.args, {
    cwd: root,
    env: { ...inherited(service), ...service.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const prefix = color ? `\x1b[${service.tint}m[${service.name}]\x1b[0m ` : `[${service.name}] `;
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    createInterface({ input: stream! }).on("line", (line) => out.write(`${prefix}${line}\n`));
  }
  return child;
}

const children = new Map<string, ChildProcess>();
let stopping = false;
const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** Signals a service's whole process group (see `run`); quiet when it is gone already. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // The group is empty: nothing left to stop.
  }
}

async function stopAll(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  say("stopping…");
  for (const child of children.values()) if (running(child)) child.kill("SIGTERM");
  const deadline = Date.now() + stopTimeoutMs;
  while ([...children.values()].some(running) && Date.now() < deadline) await sleep(100);
  for (const [name, child] of children) {
    if (running(child)) say(`${name} did not stop within ${stopTimeoutMs / 1000} s; killing it`);
    // Whatever a service left in its group (an engine it did not stop) goes with it.
    signalGroup(child, "SIGKILL");
  }
  while ([...children.values()].some(running)) await sleep(50);
  process.exit(code);
}

/**
 * What is not ready yet, for a person: what Nubabel's `/readyz` says is missing (`sidecar (the
 * OpenCode engine is starting)`), then any sidecar whose `/health` does not answer 200 yet (Nubabel
 * may be ready with one sidecar of several); "" once everything is.
 */
async function waitingFor(): Promise<string> {
  const answer = async (url: string) => {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: res.status === 200 ? {} : ((await res.json()) as { missing?: string[]; problems?: string[] } & Record<string, { error?: string } | undefined>) };
  };
  try {
    const { status, body } = await answer(`http://127.0.0.1:${nubabelPort}/readyz`);
    const missing = (body.missing ?? []).map((name) => (body[name]?.error ? `${name} (${body[name].error})` : name));
    if (status !== 200) return missing.join(", ") || `nubabel (/readyz answered ${status})`;
  } catch {
    return "nubabel to listen";
  }
  const sidecarsWaiting = await Promise.all(
    sidecars.map(async ({ name, url }) => {
      try {
        const { status, body } = await answer(`${url}/health`);
        return status === 200 ? "" : `${name} (${body.problems?.join("; ") ?? `/health answered ${status}`})`;
      } catch {
        return `${name} to listen`;
      }
    }),
  );
  return sidecarsWaiting.filter(Boolean).join(", ");
}

async function announce(): Promise<void> {
  const started = Date.now();
  let nextNote = started + patienceMs;
  for (;;) {
    if (stopping) return;
    const waiting = await waitingFor();
    if (!waiting) break;
    if (stopping) return;
    if (Date.now() - started > readyTimeoutMs) {
      say(`not ready after ${readyTimeoutMs / 1000} s; still waiting for: ${waiting}`);
      await stopAll(1);
    }
    if (Date.now() >= nextNote) {
      say(`not ready yet (${Math.round((Date.now() - started) / 1000)} s); waiting for: ${waiting}`);
      nextNote = Date.now() + patienceMs;
    }
    await sleep(250);
  }
  const lines = [`Nubabel  ${nubabelUrl}`, ...sidecars.map(({ name, url }) => `${name[0]!.toUpperCase()}${name.slice(1)}  ${url}`)];
  if (!env.DATABASE_URL) {
    const dataDir = path.resolve(env.INIT_CWD || root, env.NUBABEL_DATA_DIR || ".data/nubabel");
    try {
      const dev = JSON.parse(readFileSync(path.join(dataDir, "dev-organization.json"), "utf8")) as { organizationId: string; apiKey: string };
      lines.push(`Development organization ${dev.organizationId}`, `API key  ${dev.apiKey}`);
      lines.push(`Console  ${nubabelUrl}/console/ (sign in with the API key)`);
      lines.push(`Try: curl -s ${nubabelUrl}/api/delegate -H 'authorization: Bearer ${dev.apiKey}' -H 'content-type: application/json' -d '{"prompt":"hello"}'`);
    } catch {
      lines.push("(no development organization file found)");
    }
  }
  if (generated) lines.push("SIDECAR_SHARED_SECRET was unset: generated one for this run.");
  say(`ready\n\n  ${lines.join("\n  ")}\n`);
}

for (const service of services) {
  const child = run(service);
  children.set(service.name, child);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    say(`${service.name} exited (${signal ?? `code ${code}`}); stopping the rest`);
    void stopAll(code || 1);
  });
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
// Whoever started us (npm, a terminal) is gone, killed outright: nobody can stop the services any more.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void stopAll(1), 1_000).unref();
void announce();
