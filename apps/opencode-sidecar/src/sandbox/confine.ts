import { lstat, realpath } from "node:fs/promises";
import path from "node:path";

/**
 * The engine's file tools check paths lexically (`..` and absolute paths), then follow symlinks:
 * a link the agent made inside its workspace would lead them into another organization's. These
 * checks, run by the nubabel-bridge plugin before every tool call, resolve the real path first.
 */

/** The paths a call of `tool` touches, as the agent gave them (relative to the workspace). */
export function pathsOf(tool: string, args: Record<string, unknown>): string[] {
  const text = (value: unknown) => (typeof value === "string" && value !== "" ? [value] : []);
  switch (tool) {
    case "read":
    case "write":
    case "edit":
    case "multiedit":
      return text(args.filePath);
    case "glob":
    case "grep":
    case "list":
      return text(args.path).length ? text(args.path) : ["."];
    case "bash":
      return text(args.workdir);
    case "apply_patch":
    case "patch":
      return patchPaths(typeof args.patchText === "string" ? args.patchText : "");
    default:
      return [];
  }
}

const PATCH_HEADERS = ["*** Add File:", "*** Update File:", "*** Delete File:", "*** Move to:"];

/**
 * Every file an `apply_patch` envelope adds, updates, deletes or moves to, read exactly as the
 * engine reads them (lines split on `\n`, the rest of a header line trimmed), so no spelling of a
 * path escapes the check. A header holding a control or line-separator character is refused whole.
 */
export function patchPaths(patch: string): string[] {
  const found: string[] = [];
  for (const line of patch.split("\n")) {
    const header = PATCH_HEADERS.find((h) => line.startsWith(h));
    if (!header) continue;
    const file = line.slice(header.length).trim();
    // eslint-disable-next-line no-control-regex -- finding control characters is the point
    if (/[\u0000-\u001f\u007f\u2028\u2029]/.test(file)) throw new Error(`apply_patch refused: a file name with a control character (${JSON.stringify(file)})`);
    found.push(file);
  }
  return found;
}

/** The files the engine adds to a `read` as "instructions" when they sit in a folder on the way. */
const INSTRUCTION_FILES = ["AGENTS.md", "CLAUDE.md", "CONTEXT.md"];

/**
 * The instruction files the engine would read along with `file`: those named above, in every folder
 * from the file's own up to the workspace, that exist (as files or links). The engine follows links,
 * so each must pass `outsideReason` too, or a link named AGENTS.md would read another workspace.
 */
export async function instructionPaths(workspace: string, file: string): Promise<string[]> {
  const root = path.resolve(workspace);
  const found: string[] = [];
  let dir = path.dirname(path.resolve(workspace, file));
  while (dir === root || dir.startsWith(root + path.sep)) {
    for (const name of INSTRUCTION_FILES) {
      const candidate = path.join(dir, name);
      if (await lstat(candidate).then(() => true, () => false)) found.push(candidate);
    }
    if (dir === root) break;
    dir = path.dirname(dir);
  }
  return found;
}

/**
 * Why `given` (absolute, or relative to `workspace`) is outside the workspace once every symlink
 * is followed, or undefined when it is inside. A path that does not exist yet is judged by its
 * nearest existing folder; a dangling symlink on the way is refused, since writing through it
 * would create its target wherever it points.
 */
export async function outsideReason(workspace: string, given: string): Promise<string | undefined> {
  const root = await realpath(workspace);
  const real = await resolveReal(path.resolve(workspace, given));
  if (real === undefined) return `${given} is a symlink that points nowhere`;
  return real === root || real.startsWith(root + path.sep) ? undefined : `${given} is outside this organization's workspace`;
}

/**
 * Folders in a workspace that the engine's plugins read configuration, skills or commands from:
 * OhMyOpenCode's `.omo` (and `.sisyphus`, which it copies there), and the `.opencode`, `.claude`
 * and `.agents` folders whose commands it loads, running their `!` lines in the engine's own process,
 * outside the sandbox. The sidecar lays them down empty and owns them; the agent may not write
 * them (the bridge plugin refuses, the sandbox mounts them read-only).
 */
export const RESERVED_FOLDERS = [".omo", ".sisyphus", ".opencode", ".claude", ".agents"] as const;

/** Why `given` is in one of the workspace's reserved folders, or undefined when it is not. */
export async function reservedReason(workspace: string, given: string): Promise<string | undefined> {
  const root = await realpath(workspace);
  const real = await resolveReal(path.resolve(workspace, given));
  const hit = real && RESERVED_FOLDERS.find((name) => real === path.join(root, name) || real.startsWith(path.join(root, name) + path.sep));
  return hit ? `${given} is in ${hit}, which holds the engine's configuration` : undefined;
}

async function resolveReal(absolute: string): Promise<string | undefined> {
  const missing: string[] = [];
  let current = absolute;
  for (;;) {
    try {
      return path.join(await realpath(current), ...missing.reverse());
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      // realpath fails the same way for a missing path and a dangling link: tell them apart.
      if (await lstat(current).then((s) => s.isSymbolicLink(), () => false)) return undefined;
      const parent = path.dirname(current);
      if (parent === current) return absolute;
      missing.push(path.basename(current));
      current = parent;
    }
  }
}
