import { mkdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { dataPath } from "../config/files.js";
import type { Env } from "../config/env.js";
import { openPglite, openPostgres, type Database } from "./database.js";
import { EmbeddedDatabaseBusy, lockEmbedded } from "./embedded-lock.js";

/**
 * Opens the configured database with migrations applied: PostgreSQL at `DATABASE_URL`, else
 * PGlite in the data folder under its one-process lock (released by `close`), waiting up to
 * `lockWaitMs` for a short-lived holder (a CLI run) before giving up with `EmbeddedDatabaseBusy`.
 * A new PGlite database starts from `pgliteTemplate` when given (see `openPglite`).
 */
export async function openDatabase(env: Pick<Env, "DATABASE_URL" | "NUBABEL_DATA_DIR">, lockWaitMs = 0, pgliteTemplate?: Blob): Promise<Database> {
  if (env.DATABASE_URL) return openPostgres(env.DATABASE_URL);
  mkdirSync(env.NUBABEL_DATA_DIR, { recursive: true });
  const lockFile = dataPath(env.NUBABEL_DATA_DIR, "pglite.lock");
  const deadline = Date.now() + lockWaitMs;
  let release: () => void;
  for (;;) {
    try {
      release = lockEmbedded(lockFile);
      break;
    } catch (err) {
      if (!(err instanceof EmbeddedDatabaseBusy) || Date.now() >= deadline) throw err;
      await sleep(100);
    }
  }
  try {
    const database = await openPglite(dataPath(env.NUBABEL_DATA_DIR, "pglite"), pgliteTemplate);
    return {
      ...database,
      close: async () => {
        try {
          await database.close();
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}
