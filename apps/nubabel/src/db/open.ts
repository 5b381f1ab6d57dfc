import { mkdirSync } from "node:fs";
import { dataPath } from "../config/files.js";
import type { Env } from "../config/env.js";
import { openPglite, openPostgres, type Database } from "./database.js";
import { lockEmbedded } from "./embedded-lock.js";

/**
 * Opens the configured database with migrations applied: PostgreSQL at `DATABASE_URL`, else
 * PGlite in the data folder under its one-process lock (released by `close`).
 */
export async function openDatabase(env: Pick<Env, "DATABASE_URL" | "NUBABEL_DATA_DIR">): Promise<Database> {
  if (env.DATABASE_URL) return openPostgres(env.DATABASE_URL);
  mkdirSync(env.NUBABEL_DATA_DIR, { recursive: true });
  const release = lockEmbedded(dataPath(env.NUBABEL_DATA_DIR, "pglite.lock"));
  try {
    const database = await openPglite(dataPath(env.NUBABEL_DATA_DIR, "pglite"));
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
