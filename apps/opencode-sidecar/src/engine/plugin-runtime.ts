import { execFile } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { toolEnv } from "../config/env.js";
import type { Logger } from "../logger.js";
import { ENGINE_VERSION, packageDir } from "./supervisor.js";

const run = promisify(execFile);

/**
 * The engine installs `@opencode-ai/plugin` into its config folder before it loads any plugin,
 * from the network, and waits for it. We install it ourselves, once per engine version, from npm's
 * local cache (filled by `npm ci`, since the sidecar depends on the same package), into a folder
 * every engine shares as `XDG_CONFIG_HOME`. The engine then finds it complete and fetches nothing.
 */
export async function preparePluginRuntime(log: Logger): Promise<string> {
  const root = path.join(packageDir, "..", ".cache", "nubabel-opencode", ENGINE_VERSION);
  const configHome = path.join(root, "config");
  if (existsSync(path.join(configHome, "opencode", "node_modules", "@opencode-ai", "plugin", "package.json"))) return configHome;

  // Built aside and moved in whole, so concurrent starts never see half an install.
  const staging = path.join(root, `staging-${process.pid}-${Date.now()}`);
  const dir = path.join(staging, "opencode");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ dependencies: { "@opencode-ai/plugin": ENGINE_VERSION } }, null, 2));
  const args = ["install", "--no-audit", "--no-fund", "--ignore-scripts"];
  const started = Date.now();
  try {
    await run("npm", [...args, "--offline"], { cwd: dir, env: toolEnv(), timeout: 120_000 });
  } catch (err) {
    log.warn({ err: (err as Error).message.split("\n")[0] }, "plugin runtime not in npm's cache; fetching it once");
    await run("npm", [...args, "--prefer-offline"], { cwd: dir, env: toolEnv(), timeout: 300_000 });
  }
  try {
    renameSync(staging, configHome);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another start won the race
  }
  log.info({ configHome, ms: Date.now() - started }, "plugin runtime installed");
  return configHome;
}
