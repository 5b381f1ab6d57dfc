import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);

/** Where the `opencode-ai` package (the engine binary) is installed. */
export const packageDir = path.dirname(require.resolve("opencode-ai/package.json"));

/** The engine version shipped with the sidecar. */
export const ENGINE_VERSION: string = JSON.parse(readFileSync(path.join(packageDir, "package.json"), "utf8")).version;
