/**
 * `npm run build`: builds the web console (`apps/console`, with Vite) into `apps/console/dist`,
 * which Nubabel serves at `/console/`. Only when needed: skipped while the build is newer than
 * every source file and the lock file, so `npm start` and `npm test` stay quick after the first
 * time and two of them started together do not rebuild under each other. `--force` builds anyway.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const app = path.join(root, "apps/console");
const stamp = path.join(app, "dist/index.html");

function newest(file: string): number {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(file).map((name) => newest(path.join(file, name))));
}

const sources = ["index.html", "vite.config.ts", "package.json", "tsconfig.json", "src"].map((p) => path.join(app, p));
const upToDate = existsSync(stamp) && statSync(stamp).mtimeMs >= Math.max(...[...sources, path.join(root, "package-lock.json")].map(newest));

if (upToDate && !process.argv.includes("--force")) {
  console.log("console: up to date (apps/console/dist)");
} else {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  // A production build whatever the caller's NODE_ENV (vitest sets `test`, which Vite would honour).
  const result = spawnSync(npm, ["run", "build", "-w", "@nubabel/console"], { cwd: root, stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } });
  process.exit(result.status ?? 1);
}
