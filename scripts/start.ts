/**
 * `npm start`: Nubabel and the OpenCode sidecar together on this machine, embedded defaults
 * included. One command, both logs (prefixed), both stopped on Ctrl-C / SIGTERM, and the URLs
 * plus the development API key printed once Nubabel answers.
 *
 * Environment: NUBABEL_PORT (3000), SIDECAR_PORT (3001), SIDECAR_SHARED_SECRET (generated for
 * this run when unset and given to both), NUBABEL_URL (what the sidecar calls back; defaults to
 * Nubabel's loopback URL); everything else passes through to both services.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Webhooks } from "@nubabel/contracts";

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
  // Straight to node (no npm in between), so signals reach the service itself.
  const child = spawn(process.execPath, ["--import", "tsx", service.entry], {
    cwd: root,
    env: { ...inherited(service.name), ...service.env },
    stdio: ["ignore", "pipe", "pipe"],
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

async function stopAll(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    say("stopping…");
    for (const child of children.values()) if (child.exitCode === null) child.kill("SIGTERM");
    const deadline = Date.now() + 10_000;
    while ([...children.values()].some((c) => c.exitCode === null && c.signalCode === null) && Date.now() < deadline) await sleep(100);
    for (const child of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  process.exit(code);
}

async function announce(): Promise<void> {
  for (let i = 0; i < 600 && !stopping; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${nubabelPort}/health`);
      if (res.status === 200) break;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  if (stopping) return;
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
void announce();
