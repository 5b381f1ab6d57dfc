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

/** Every file an `apply_patch` envelope adds, updates, deletes or moves to. */
export function patchPaths(patch: string): string[] {
  const found: string[] = [];
  for (const line of patch.split(/\r?\n/)) {
    const match = /^\*\*\* (?:Add File|Update File|Delete File|Move to):\s*(.+?)\s*$/.exec(line);
    if (match) found.push(match[1]!);
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
