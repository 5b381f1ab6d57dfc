import { existsSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ENGINE_VERSION, packageDir } from "./package.js";

/**
 * The engine npm-installs `@opencode-ai/plugin` into its config folder before it loads any
 * plugin, from the network, and waits for it; it skips that only when the folder has a
 * `package-lock.json`. The sidecar already has that package (same version) installed, so the
 * config folder gets a lock file and a link to our `node_modules`: nothing is fetched at start.
 */
export function preparePluginRuntime(configHome: string): void {
  const dir = path.join(configHome, "opencode");
  mkdirSync(dir, { recursive: true });
  const dependencies = { "@opencode-ai/plugin": ENGINE_VERSION };
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ dependencies }, null, 2));
  writeFileSync(
    path.join(dir, "package-lock.json"),
    JSON.stringify({ name: "opencode", lockfileVersion: 3, requires: true, packages: { "": { dependencies } } }, null, 2),
  );
  const link = path.join(dir, "node_modules");
  if (!existsSync(link)) symlinkSync(path.dirname(packageDir), link, "dir");
}
