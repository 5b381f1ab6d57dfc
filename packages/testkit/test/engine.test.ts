import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk/v2";
import { afterAll, beforeAll, expect, it } from "vitest";
import { ModelServer, opencodeProvider } from "../src/index.js";

// The real engine against the scripted model. Booting it is kept local on purpose: engine
// supervision belongs to the sidecar; this only proves the model server speaks OpenCode's dialect.

// opencode-ai and @opencode-ai/plugin sit side by side in the workspace node_modules.
const nodeModules = dirname(dirname(createRequire(import.meta.url).resolve("opencode-ai/package.json")));
const opencodeBin = join(nodeModules, ".bin", "opencode");

let model: ModelServer;
let engine: ChildProcess;
let root: string;
let baseUrl: string;

beforeAll(async () => {
  model = await ModelServer.start();
  root = mkdtempSync(join(tmpdir(), "testkit-engine-"));
  const xdg = Object.fromEntries(
    ["DATA", "CONFIG", "CACHE", "STATE"].map((k) => [`XDG_${k}_HOME`, mkdir(join(root, "xdg", k.toLowerCase()))]),
  );
  offlinePluginInstall(join(xdg.XDG_CONFIG_HOME!, "opencode"));
  const work = mkdir(join(root, "work"));
  const { provider, model: modelRef } = opencodeProvider(model.url);
  const config = { $schema: "https://opencode.ai/config.json", provider, model: modelRef, small_model: modelRef, share: "disabled", autoupdate: false };
  const port = await freePort();
  engine = spawn(opencodeBin, ["serve", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: work,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      ...xdg,
      OPENCODE_CONFIG_CONTENT: JSON.stringify(config),
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_CLAUDE_CODE: "1",
      OPENCODE_CLIENT: "sdk",
    },
  });
  await listening(engine, 60_000);
  baseUrl = `http://127.0.0.1:${port}`;
});

afterAll(async () => {
  if (engine && engine.exitCode === null) {
    const exited = new Promise((resolve) => engine.once("exit", resolve));
    engine.kill("SIGTERM");
    const timer = setTimeout(() => engine.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await model?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

it("returns the scripted text as the assistant message; the title call does not eat it", async () => {
  model.script({ text: "Scripted hello from testkit", chunks: 4 });
  const client = createOpencodeClient({ baseUrl, directory: join(root, "work") });
  const session = (await client.session.create({}, { throwOnError: true })).data;
  await client.session.promptAsync({ sessionID: session.id, parts: [{ type: "text", text: "hi" }] }, { throwOnError: true });

  const [turn] = await model.waitForRequests(1, 30_000);
  expect(turn!.tools.length).toBeGreaterThan(0);
  const assistant = await until(async () => {
    const messages = (await client.session.messages({ sessionID: session.id }, { throwOnError: true })).data;
    const last = messages.at(-1);
    return last?.info.role === "assistant" && last.info.time.completed ? last : undefined;
  }, 30_000);
  const text = assistant.parts.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
  expect(text).toBe("Scripted hello from testkit");
  expect(model.requests).toHaveLength(1);
  expect(model.pending()).toBe(0);
  expect(model.auxiliaryRequests.length).toBeGreaterThanOrEqual(1);
  const title = await until(async () => {
    const got = (await client.session.get({ sessionID: session.id }, { throwOnError: true })).data;
    return got.title === "Test session" ? got.title : undefined;
  }, 10_000);
  expect(title).toBe("Test session");
});

function mkdir(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

// At start the engine npm-installs @opencode-ai/plugin into its config folder (reaching
// registry.npmjs.org) unless a package-lock.json is there; the workspace already has the plugin.
function offlinePluginInstall(dir: string): void {
  mkdir(dir);
  const deps = { "@opencode-ai/plugin": "1.18.33" };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ dependencies: deps }));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ name: "opencode", lockfileVersion: 3, requires: true, packages: { "": { dependencies: deps } } }));
  symlinkSync(nodeModules, join(dir, "node_modules"));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer().once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

function listening(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`engine not listening after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("opencode server listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`engine exited with ${code} before listening:\n${output}`));
    });
  });
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
