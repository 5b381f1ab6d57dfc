import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** PGlite in `dataDir` is already open in a live process (the server, or a CLI run). */
export class EmbeddedDatabaseBusy extends Error {
  override readonly name = "EmbeddedDatabaseBusy";
  constructor(readonly pid: number) {
    super(`the embedded database is in use by process ${pid}`);
  }
}

/**
 * Takes the lock file that keeps a second process (or a second instance in this one) from
 * opening the same PGlite folder, which would corrupt it. A lock left by a dead process is taken
 * over. Returns the release function.
 */
export function lockEmbedded(lockFile: string): () => void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: "wx", mode: 0o600 });
      return () => rmSync(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = lockHolder(lockFile);
    if (holder !== undefined) throw new EmbeddedDatabaseBusy(holder);
    rmSync(lockFile, { force: true });
  }
  throw new Error(`could not take ${lockFile}`);
}

/** The live process holding the lock, or undefined when it is free or stale. */
export function lockHolder(lockFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile, "utf8").trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : undefined;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
