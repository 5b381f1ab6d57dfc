#!/usr/bin/env node
// The `nubabel` command. There is no build step, so it loads the TypeScript CLI through tsx,
// registered from here (not with `node --import tsx`, which resolves tsx from the caller's folder
// and fails outside the repository).
import process from "node:process";
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli/main.ts");
process.exitCode = await runCli(process.argv.slice(2), process.env);
