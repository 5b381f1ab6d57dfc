import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Past the services' own grace periods (the bench sets 1 s): then the whole group is killed. */
const STOP_TIMEOUT_MS = 15_000;
/** pino's number for `warn`. */
const WARN = 40;

const running = new Set<Service>();

/**
 * A service run as `npm start` runs it (`node --import tsx <entry>`, see scripts/start.ts), in its
 * own process group so that Ctrl-C reaches the bench only, which stops the services in order, and
 * a last resort kills a service's whole group, the sidecar's engine included.
 */
export class Service {
  readonly pid: number;
  readonly exited: Promise<void>;
  private tail = "";
  private warnings = 0;
  private readonly samples = new Set<string>();
  private stopping = false;
  /** Set once it answered its health check: an exit after that is news; one before, `waitHealthy` reports. */
  ready = false;

  constructor(
    readonly name: string,
    entry: string,
    readonly env: Record<string, string>,
    readonly url: string,
  ) {
    const child = spawn(process.execPath, [...(process.env.BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`] : []), "--import", "tsx", entry], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    if (child.pid === undefined) throw new Error(`${name} did not start`);
    this.pid = child.pid;
    running.add(this);
    // BENCH_LOGS=<dir>: every line the service prints, kept whole for a failure's post-mortem.
    // Written line by line, synchronously: the bench's exit must not drop the last lines, the ones a post-mortem wants.
    const logs = process.env.BENCH_LOGS;
    if (logs) mkdirSync(logs, { recursive: true });
    const file = logs ? path.join(logs, `${name}.log`) : undefined;
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on("line", (line) => {
        if (file) appendFileSync(file, `${line}\n`);
        this.read(line);
      });
    this.exited = new Promise((resolve) =>
      child.once("exit", (code, signal) => {
        running.delete(this);
        if (this.ready && !this.stopping) console.error(`\nbench: ${name} exited (${signal ?? `code ${code}`}) in the middle of the run; its last output:\n${this.output()}`);
        resolve();
      }),
    );
  }

  /** The last of what it printed, for failure messages. */
  output(): string {
    return this.tail.slice(-3_000);
  }

  /** Its log lines at warn or above: how many, and a few distinct messages. */
  logged(): { count: number; samples: string[] } {
    return { count: this.warnings, samples: [...this.samples] };
  }

  /** SIGTERM to the service, then (after its exit, or `STOP_TIMEOUT_MS`) SIGKILL to whatever is left of its group. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (running.has(this)) {
      signal(this.pid, "SIGTERM");
      await Promise.race([this.exited, sleep(STOP_TIMEOUT_MS)]);
    }
    signal(-this.pid, "SIGKILL");
    await this.exited;
  }

  private read(line: string): void {
    this.tail = (this.tail + line + "\n").slice(-20_000);
    let entry: { level?: number; msg?: string; err?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      return;
    }
    if ((entry.level ?? 0) < WARN) return;
    this.warnings++;
    const text = `${entry.msg ?? ""}${entry.err ? ` (${typeof entry.err === "string" ? entry.err : JSON.stringify(entry.err)})` : ""}`;
    if (this.samples.size < 3) this.samples.add(text.slice(0, 200));
  }
}

/** Waits until `service` answers 200 at `route`, or fails naming what it printed. */
export async function waitHealthy(service: Service, route: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void service.exited.then(() => (exited = true));
  while (Date.now() < deadline && !exited) {
    try {
      const res = await fetch(`${service.url}${route}`, { signal: AbortSignal.timeout(2_000) });
      if (res.status === 200) {
        service.ready = true;
        return;
      }
    } catch {
      // Not listening yet.
    }
    await sleep(200);
  }
  throw new Error(`${service.name} did not answer 200 at ${route}${exited ? " (it exited)" : ` within ${timeoutMs / 1000} s`}; its last output:\n${service.output()}`);
}

/** SIGKILL to every service still running and its group: the last resort on the way out. */
export function killAll(): void {
  for (const service of running) signal(-service.pid, "SIGKILL");
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Gone already.
  }
}
