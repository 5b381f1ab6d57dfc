/**
 * `npm start`: Nubabel and the OpenCode sidecar together on this machine, embedded defaults
 * included. One command, both logs (prefixed), both stopped on Ctrl-C / SIGTERM (and waited for),
 * and `ready` with the URLs plus the development API key printed once Nubabel's `/readyz` says
 * ready: its database and Redis answer and the sidecar's engine runs, so a delegation sent then works.
 *
 * Environment: NUBABEL_PORT (3000), SIDECAR_PORT (3001), SIDECAR_SHARED_SECRET (generated for
 * this run when unset and given to both), NUBABEL_URL (what the sidecar calls back; defaults to
 * Nubabel's loopback URL), START_READY_TIMEOUT_MS (120000: not ready by then → both stopped, exit 1);
 * everything else passes through to both services.
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
const sidecarPort = env.SIDECAR_PORT || "3001";
const nubabelUrl = env.NUBABEL_URL || `http://127.0.0.1:${nubabelPort}`;
const sidecarUrl = env.SIDECAR_URL || `http://127.0.0.1:${sidecarPort}`;
const generated = !env.SIDECAR_SHARED_SECRET;
// Generated per run: both children get it, nothing else needs it, and nothing stores it.
const secret = env.SIDECAR_SHARED_SECRET || Webhooks.generateSecret();
const color = process.stdout.isTTY;
const readyTimeoutMs = Number(env.START_READY_TIMEOUT_MS) || 120_000;
/** How long to wait quietly before saying what `ready` still waits for, and how often after. */
const patienceMs = 5_000;
/** Bound on stopping: past the services' own grace periods (10 s each by default), then SIGKILL. */
const stopTimeoutMs = 20_000;

const services = [
  {
    name: "nubabel",
    tint: 36,
    entry: "apps/nubabel/src/main.ts",
    env: { NUBABEL_PORT: nubabelPort, SIDECAR_URL: sidecarUrl, SIDECAR_SHARED_SECRET: secret },
  },
  {
    name: "sidecar",
    tint: 35,
    entry: "apps/opencode-sidecar/src/main.ts",
    env: { SIDECAR_PORT: sidecarPort, NUBABEL_CALLBACK_URL: nubabelUrl, SIDECAR_SHARED_SECRET: secret },
  },
];

// Nubabel's own secrets stay out of the sidecar's process (and so out of anything it spawns).
const nubabelOnly = new Set(["NUBABEL_ENCRYPTION_KEY", "NUBABEL_TOKEN_SECRET", "DATABASE_URL"]);
const inherited = (name: string) => (name === "sidecar" ? Object.fromEntries(Object.entries(env).filter(([k]) => !nubabelOnly.has(k))) : env);

function say(line: string): void {
  process.stdout.write(`${color ? "\x1b[1m" : ""}[start]${color ? "\x1b[0m" : ""} ${line}\n`);
}

function run(service: (typeof services)[number]): ChildProcess {
  // Straight to node (no npm in between), so signals reach the service itself. Each in its own
  // process group: Ctrl-C reaches this script only, which stops the services in order, and a last
  // resort kills a service's whole group, the sidecar's OpenCode engine included. Should this
  // script itself die (`kill -9`), each service gets SIGTERM and stops as it would on Ctrl-C.
  const node = Processes.tiedToParent(process.execPath, ["--import", "tsx", service.entry], "TERM");
  const child = spawn(node.command, node.args, {
    cwd: root,
    env: { ...inherited(service.name), ...service.env },
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

/** What `/readyz` says is missing, for a person: `sidecar (the OpenCode engine is starting)`. */
async function readiness(): Promise<{ ready: boolean; waitingFor: string }> {
  try {
    const res = await fetch(`http://127.0.0.1:${nubabelPort}/readyz`, { signal: AbortSignal.timeout(5_000) });
    if (res.status === 200) return { ready: true, waitingFor: "" };
    const body = (await res.json()) as { missing?: string[] } & Record<string, { error?: string } | undefined>;
    const missing = (body.missing ?? []).map((name) => (body[name]?.error ? `${name} (${body[name].error})` : name));
    return { ready: false, waitingFor: missing.join(", ") || `nubabel (/readyz answered ${res.status})` };
  } catch {
    return { ready: false, waitingFor: "nubabel to listen" };
  }
}

async function announce(): Promise<void> {
  const started = Date.now();
  let nextNote = started + patienceMs;
  for (;;) {
    if (stopping) return;
    const { ready, waitingFor } = await readiness();
    if (ready) break;
    if (stopping) return;
    if (Date.now() - started > readyTimeoutMs) {
      say(`not ready after ${readyTimeoutMs / 1000} s; still waiting for: ${waitingFor}`);
      await stopAll(1);
    }
    if (Date.now() >= nextNote) {
      say(`not ready yet (${Math.round((Date.now() - started) / 1000)} s); waiting for: ${waitingFor}`);
      nextNote = Date.now() + patienceMs;
    }
    await sleep(250);
  }
  const lines = [`Nubabel  ${nubabelUrl}`, `Sidecar  ${sidecarUrl}`];
  if (!env.DATABASE_URL) {
    const dataDir = path.resolve(env.INIT_CWD || root, env.NUBABEL_DATA_DIR || ".data/nubabel");
    try {
      const dev = JSON.parse(readFileSync(path.join(dataDir, "dev-organization.json"), "utf8")) as { organizationId: string; apiKey: string };
      lines.push(`Development organization ${dev.organizationId}`, `API key  ${dev.apiKey}`);
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
    say(`${service.name} exited (${signal ?? `code ${code}`}); stopping the other`);
    void stopAll(code || 1);
  });
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));
// Whoever started us (npm, a terminal) is gone, killed outright: nobody can stop the services any more.
const parent = process.ppid;
setInterval(() => process.ppid !== parent && void stopAll(1), 1_000).unref();
void announce();
