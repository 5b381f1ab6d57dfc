import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { backendEnv, tempDir } from "./fixtures/backends.js";
import { freePort, startService, type ServiceProcess } from "./fixtures/processes.js";
import { testSecrets } from "./fixtures/nubabel.js";

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

/** The first output line that contains `text`, waiting for it. */
async function lineWith(service: ServiceProcess, text: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = service.output().split(/\r?\n/).find((l) => l.replace(ANSI, "").includes(text));
    if (line !== undefined) return line;
    await sleep(100);
  }
  throw new Error(`no line with "${text}" from ${service.name}; it printed:\n${service.output()}`);
}

/** Issue 13's acceptance 4: a terminal gets readable coloured lines; a pipe gets JSON. */
describe("log lines on a terminal and elsewhere", () => {
  const started: ServiceProcess[] = [];
  const dirs: Array<{ remove(): void }> = [];
  const backends: Array<{ cleanup(): Promise<void> }> = [];
  afterEach(async () => {
    for (const service of started.splice(0)) await service.kill();
    for (const dir of dirs.splice(0)) dir.remove();
    for (const backend of backends.splice(0)) await backend.cleanup();
  });

  const nubabelEnv = async () => {
    // PostgreSQL where there is one: a new embedded database's initdb can take most of a minute on
    // a slow machine, and storage is not what these tests look at.
    const backend = await backendEnv("shared");
    backends.push(backend);
    // No sidecar listens at SIDECAR_URL: Nubabel starts all the same, and says so.
    return { ...backend.env, ...testSecrets(), NUBABEL_PORT: String(await freePort()), SIDECAR_URL: "http://127.0.0.1:9" };
  };

  it("Nubabel on a terminal: one readable, coloured line per event, not JSON", async () => {
    const service = startService("nubabel", await nubabelEnv(), { terminal: true });
    started.push(service);
    const line = await lineWith(service, "nubabel listening");
    expect(line).toMatch(ANSI);
    const plain = line.replace(ANSI, "");
    expect(plain.trim().startsWith("{")).toBe(false);
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: nubabel listening \{/);
    expect(await lineWith(service, "metrics off")).not.toMatch(/^\s*\{/);
  });

  it("Nubabel into a pipe: JSON lines", async () => {
    const service = startService("nubabel", await nubabelEnv());
    started.push(service);
    const line = await lineWith(service, "nubabel listening");
    expect(JSON.parse(line)).toMatchObject({ level: 30, service: "nubabel", msg: "nubabel listening" });
  });

  it("the sidecar on a terminal: readable lines too", async () => {
    const data = tempDir("sidecar");
    dirs.push(data);
    const service = startService("sidecar", {
      SIDECAR_SHARED_SECRET: testSecrets().SIDECAR_SHARED_SECRET,
      SIDECAR_PORT: String(await freePort()),
      SIDECAR_DATA_DIR: data.dir,
      SANDBOX: "off",
    }, { terminal: true });
    started.push(service);
    // Said before the engine starts, so the test need not wait for it.
    const line = (await lineWith(service, "metrics off")).replace(ANSI, "");
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO.*metrics off: set METRICS_TOKEN/);
  });
});
