import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { ModelServer } from "@nubabel/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { flushPrefix, freshPrefix, infra, tempDir } from "./fixtures/backends.js";
import { freePort } from "./fixtures/processes.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Pids whose command line, environment or working folder mention `marker` (a unique temp path). */
function processesMentioning(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const seen = [readFileSync(`/proc/${pid}/cmdline`, "utf8"), readFileSync(`/proc/${pid}/environ`, "utf8"), readlinkSync(`/proc/${pid}/cwd`)];
      if (seen.some((text) => text.includes(marker))) found.push(pid);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** SIGKILL to every process `processesMentioning(marker)` finds: what a failed test left behind. */
function killMentioning(marker: string): void {
  for (const pid of processesMentioning(marker)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");

/** One variable of a process's environment as it was started. */
function environ(pid: number, name: string): string | undefined {
  const entry = readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .find((e) => e.startsWith(`${name}=`));
  return entry?.slice(name.length + 1);
}

/** Resolves true when nothing listens on `port` (it could be listened on just now). */
async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  const listening = await new Promise<boolean>((resolve) => server.once("error", () => resolve(false)).listen(port, "127.0.0.1", () => resolve(true)));
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  return listening;
}

/**
 * Every port can be listened on within a few seconds; else the failure says which sockets hold it.
 * Not at once: a process already gone from /proc's view (its command line is empty while it exits)
 * may still be closing its sockets.
 */
async function expectFree(ports: number[], withinMs = 10_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (const port of ports) {
    let free = await portIsFree(port);
    while (!free && Date.now() < deadline) {
      await sleep(100);
      free = await portIsFree(port);
    }
    expect(free, free ? "" : `port ${port} of ${ports.join(", ")} is taken:\n${execFileSync("ss", ["-tanpH", `sport = :${port}`], { encoding: "utf8" })}`).toBe(true);
  }
}

/** `n` free ports in a row: `SIDECARS=n` puts its sidecars on SIDECAR_PORT, SIDECAR_PORT+1, … */
async function freePortsInRow(n: number): Promise<number[]> {
  for (;;) {
    const first = await freePort();
    const ports = Array.from({ length: n }, (_, k) => first + k);
    if (ports.at(-1)! <= 65535 && (await Promise.all(ports.slice(1).map(portIsFree))).every(Boolean)) return ports;
  }
}

/** `npm start` as a person runs it, on fresh ports and folders, once it said `ready`. */
async function startNpm(dataDirs: { nubabel: string; sidecar: string }, modelUrl: string, extra: Record<string, string> = {}) {
  const nubabelPort = await freePort();
  const sidecarPorts = await freePortsInRow(Number(extra.SIDECARS ?? 1));
  const env: Record<string, string | undefined> = {
    ...process.env,
    NUBABEL_PORT: String(nubabelPort),
    SIDECAR_PORT: String(sidecarPorts[0]),
    NUBABEL_DATA_DIR: dataDirs.nubabel,
    SIDECAR_DATA_DIR: dataDirs.sidecar,
    MODEL_BASE_URL: modelUrl,
    MODEL_NAME: "scripted",
    // `info`: the sidecar's "engine running" line must come before `ready`.
    LOG_LEVEL: "info",
    // The embedded default, whatever this machine's test services: that is what prints a key.
    DATABASE_URL: undefined,
    REDIS_URL: undefined,
    SIDECAR_SHARED_SECRET: undefined,
    NUBABEL_URL: undefined,
    SIDECAR_URL: undefined,
    ...extra,
  };
  let output = "";
  const child = spawn("npm", ["start"], { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  while (!/\[start\] ready/.test(output)) {
    if (child.exitCode !== null) throw new Error(`npm start exited before ready:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not say ready:\n${output}`);
    await sleep(50);
  }
  return { child, exited, nubabelPort, sidecarPorts, output: () => output };
}

describe.runIf(process.platform === "linux")("npm start", () => {
  const nubabelData = tempDir("npm-start-nubabel");
  const sidecarData = tempDir("npm-start-sidecar");
  let model: ModelServer | undefined;
  let npm: ChildProcess | undefined;

  afterAll(async () => {
    // Only if the test failed half-way: nothing of this run may outlive it.
    if (npm?.exitCode === null) npm.kill("SIGKILL");
    killMentioning(sidecarData.dir);
    await model?.close();
    nubabelData.remove();
    sidecarData.remove();
  });

  it("says ready only when a delegation works, and SIGTERM during a turn leaves no process behind", { timeout: 150_000 }, async () => {
    model = await ModelServer.start();
    // Both services: a turn still running at SIGTERM is aborted after this long.
    const started = await startNpm({ nubabel: nubabelData.dir, sidecar: sidecarData.dir }, model.url, { SHUTDOWN_GRACE_MS: "2000" });
    const { child, exited, nubabelPort } = started;
    npm = child;
    // The key block is written with `ready`, in one piece.
    await sleep(50);
    const apiKey = /API key\s+(\S+)/.exec(started.output())?.[1];
    expect(apiKey, started.output()).toMatch(/^nbk_/);

    // The web console, built by `npm start` itself (prestart) on a fresh clone, is served.
    expect(started.output()).toMatch(/Console\s+http:\/\/127\.0\.0\.1:\d+\/console\//);
    const page = await fetch(`http://127.0.0.1:${nubabelPort}/console/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<script type="module" crossorigin src="\/console\/assets\/index-[\w-]+\.js">/);

    const engineUp = started.output().indexOf('"msg":"engine running"');
    expect(engineUp, "the sidecar logs its engine's start").toBeGreaterThan(-1);
    expect(engineUp).toBeLessThan(started.output().indexOf("[start] ready"));
    // At once: `ready` means the sidecar's engine runs, not that it is about to.
    const res = await fetch(`http://127.0.0.1:${nubabelPort}/api/delegate`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
      body: JSON.stringify({ prompt: "hello" }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(((await res.json()) as { output: string }).output).toContain("ok");

    const engines = processesMentioning(sidecarData.dir).filter((pid) => readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("opencode"));
    expect(engines.length, "the engine runs while npm start does").toBeGreaterThan(0);

    // A turn under way when SIGTERM arrives.
    model.script({ text: "never finished", delayMs: 60_000 });
    const pending = model.requests.length;
    const accepted = await fetch(`http://127.0.0.1:${nubabelPort}/api/delegate`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", prefer: "respond-async" },
      body: JSON.stringify({ prompt: "a long one" }),
    });
    expect(accepted.status).toBe(202);
    await model.waitForRequests(pending + 1, 30_000);

    child.kill("SIGTERM");
    const stopped = await Promise.race([exited.then(() => true), sleep(40_000).then(() => false)]);
    expect(stopped, `npm start did not exit after SIGTERM:\n${started.output().slice(-3000)}`).toBe(true);
    // No grace after the exit: `npm start` must have waited for its services and their engine.
    expect(processesMentioning(sidecarData.dir), started.output().slice(-3000)).toEqual([]);
  });

  it("kill -9 of the launcher stops both services and the sidecar's engine, and frees their ports", { timeout: 150_000 }, async () => {
    model ??= await ModelServer.start();
    const data = tempDir("npm-start-kill9");
    try {
      const { child, nubabelPort, sidecarPorts, output } = await startNpm({ nubabel: path.join(data.dir, "nubabel"), sidecar: path.join(data.dir, "sidecar") }, model.url);
      const ours = () => processesMentioning(data.dir).filter((pid) => !readFileSync(`/proc/${pid}/cmdline`, "utf8").startsWith("npm"));
      const launcher = ours().find((pid) => cmdline(pid).includes("scripts/start.ts"));
      expect(launcher, ours().map(cmdline).join("\n")).toBeDefined();
      expect(ours().some((pid) => cmdline(pid).includes("opencode"))).toBe(true);

      process.kill(launcher!, "SIGKILL");
      const end = Date.now() + 40_000;
      while (ours().length && Date.now() < end) await sleep(100);
      expect(ours().map(cmdline), output().slice(-3000)).toEqual([]);
      await expectFree([nubabelPort, ...sidecarPorts]);
      if (child.exitCode === null) child.kill("SIGKILL");
    } finally {
      killMentioning(data.dir);
      data.remove();
    }
  });

  it("SIDECARS=2 starts two sidecars, each on its own port, folder and Redis prefix; SIGTERM leaves no process and frees every port", { timeout: 150_000 }, async () => {
    model ??= await ModelServer.start();
    const data = tempDir("npm-start-two");
    // With the machine's Redis, each sidecar must get a key prefix of its own.
    const prefix = infra.redisUrl ? freshPrefix() : undefined;
    const redis: Record<string, string> = prefix ? { REDIS_URL: infra.redisUrl!, REDIS_KEY_PREFIX: prefix, REDIS_PREFIX: `${prefix}sidecar:` } : {};
    try {
      const dirs = { nubabel: path.join(data.dir, "nubabel"), sidecar: path.join(data.dir, "sidecar") };
      const { child, exited, nubabelPort, sidecarPorts, output } = await startNpm(dirs, model.url, { SIDECARS: "2", ...redis });
      const urls = sidecarPorts.map((port) => `http://127.0.0.1:${port}`);
      expect(output()).toContain(`Sidecar-1  ${urls[0]}`);
      expect(output()).toContain(`Sidecar-2  ${urls[1]}`);
      expect(output()).toMatch(/^\[sidecar-1\] /m);
      expect(output()).toMatch(/^\[sidecar-2\] /m);
      for (const url of urls) {
        const res = await fetch(`${url}/health`);
        expect(res.status, `${url}/health: ${await res.clone().text()}`).toBe(200);
        expect(((await res.json()) as { opencode: { state: string } }).opencode.state).toBe("running");
      }

      const ours = () => processesMentioning(data.dir).filter((pid) => !cmdline(pid).startsWith("npm"));
      const services = (entry: string) => ours().filter((pid) => cmdline(pid).includes(entry));
      const sidecars = services("apps/opencode-sidecar/src/main.ts").map((pid) => ({
        port: environ(pid, "SIDECAR_PORT"),
        dir: environ(pid, "SIDECAR_DATA_DIR"),
        prefix: environ(pid, "REDIS_PREFIX"),
      }));
      expect(sidecars.sort((a, b) => Number(a.port) - Number(b.port))).toEqual([
        { port: String(sidecarPorts[0]), dir: dirs.sidecar, prefix: prefix && `${prefix}sidecar:` },
        { port: String(sidecarPorts[1]), dir: `${dirs.sidecar}-2`, prefix: prefix && `${prefix}sidecar-2:` },
      ]);
      const [nubabel] = services("apps/nubabel/src/main.ts");
      expect(environ(nubabel!, "SIDECAR_URLS")).toBe(urls.join(","));
      expect(ours().filter((pid) => /opencode\S* serve /.test(cmdline(pid))).length, ours().map(cmdline).join("\n")).toBe(2);

      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), sleep(40_000).then(() => false)]);
      expect(stopped, `npm start did not exit after SIGTERM:\n${output().slice(-3000)}`).toBe(true);
      expect(processesMentioning(data.dir).map(cmdline), output().slice(-3000)).toEqual([]);
      await expectFree([nubabelPort, ...sidecarPorts]);
    } finally {
      killMentioning(data.dir);
      if (prefix) await flushPrefix(infra.redisUrl!, prefix);
      data.remove();
    }
  });
  it("the README's try-it without a model: `npm run model`, then `npm start` on it, answers a follow-up that holds the first turn", { timeout: 150_000 }, async () => {
    const data = tempDir("npm-start-echo");
    const modelPort = await freePort();
    const echo = spawn("npm", ["run", "model"], { cwd: root, env: { ...process.env, MODEL_PORT: String(modelPort), TRY_MARKER: data.dir }, stdio: ["ignore", "pipe", "pipe"] });
    let said = "";
    echo.stdout.on("data", (chunk: Buffer) => (said += chunk.toString()));
    echo.stderr.on("data", (chunk: Buffer) => (said += chunk.toString()));
    try {
      const deadline = Date.now() + 30_000;
      while (!said.includes("npm start") && echo.exitCode === null && Date.now() < deadline) await sleep(50);
      // What it tells a person to run is what this test runs.
      const suggested = /MODEL_BASE_URL=(\S+) MODEL_NAME=(\S+) npm start/.exec(said);
      expect(suggested, said).not.toBeNull();
      expect(suggested![1]).toBe(`http://127.0.0.1:${modelPort}/v1`);

      const dirs = { nubabel: path.join(data.dir, "nubabel"), sidecar: path.join(data.dir, "sidecar") };
      const { child, exited, output } = await startNpm(dirs, suggested![1]!, { MODEL_NAME: suggested![2]! });
      await sleep(50);
      const apiKey = /API key\s+(\S+)/.exec(output())?.[1];
      const nubabelUrl = /Nubabel\s+(http:\/\/\S+)/.exec(output())?.[1];
      expect(apiKey, output()).toMatch(/^nbk_/);
      const ask = async (prompt: string) => {
        const res = await fetch(`${nubabelUrl}/api/delegate`, {
          method: "POST",
          headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
          body: JSON.stringify({ prompt, sessionId: "thread-1" }),
        });
        expect(res.status, await res.clone().text()).toBe(200);
        return ((await res.json()) as { output: string }).output;
      };
      expect(await ask("Summarize my tasks")).toContain('You said "Summarize my tasks"');
      const followUp = await ask("How many are urgent?");
      expect(followUp).toContain('You said "How many are urgent?"');
      expect(followUp).toContain('holds 2 messages from you; the first was "Summarize my tasks"');

      child.kill("SIGTERM");
      const stopped = await Promise.race([exited.then(() => true), sleep(40_000).then(() => false)]);
      expect(stopped, `npm start did not exit after SIGTERM:\n${output().slice(-3000)}`).toBe(true);
      echo.kill("SIGTERM");
      const modelStopped = await Promise.race([new Promise((resolve) => echo.once("exit", resolve)).then(() => true), sleep(10_000).then(() => false)]);
      expect(modelStopped, said).toBe(true);
      expect(processesMentioning(data.dir).map(cmdline)).toEqual([]);
      await expectFree([modelPort]);
    } finally {
      killMentioning(data.dir);
      data.remove();
    }
  });
});
