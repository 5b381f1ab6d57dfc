import { accessSync, constants } from "node:fs";
import path from "node:path";

/**
 * Children that never outlive the process that started them. On Linux, util-linux's `setpriv
 * --pdeathsig` sets PR_SET_PDEATHSIG before it execs the child, so the kernel signals the child
 * when its parent dies, `kill -9` included. Where `setpriv` is missing the command is unchanged.
 */

let found: string | null | undefined;

/** `setpriv` on PATH, looked up once; null when there is none. */
export function setpriv(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (!dir) continue;
    try {
      accessSync(path.join(dir, "setpriv"), constants.X_OK);
      found = path.join(dir, "setpriv");
      break;
    } catch {
      // Not in this folder.
    }
  }
  return found;
}

/** `command args…` so that `signal` reaches it when its parent dies. */
export function tiedToParent(command: string, args: string[], signal: "KILL" | "TERM"): { command: string; args: string[] } {
  const wrapper = process.platform === "linux" ? setpriv() : null;
  return wrapper ? { command: wrapper, args: ["--pdeathsig", signal, "--", command, ...args] } : { command, args };
}
