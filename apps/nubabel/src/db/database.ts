import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { sql, type SQL } from "drizzle-orm";
import { PgDialect, type PgDatabase, type PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import * as schema from "./schema.js";

/** Drizzle over either driver; repositories are written once against this. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** The handle inside `db.transaction(async (tx) => …)`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

const dialect = new PgDialect();

/**
 * The rows of a raw statement: both drivers answer with `{ rows }`, as the driver returns them.
 * A `name` makes it a prepared statement on each PostgreSQL connection, parsed and planned once:
 * for the statements every run makes. One name, one text (a variant of the text needs its own).
 */
export async function rowsOf<T>(db: Db, query: SQL, name?: string): Promise<T[]> {
  const result = name ? await db._.session.prepareQuery(dialect.sqlToQuery(query), undefined, name, false).execute() : await db.execute(query);
  return (result as unknown as { rows: T[] }).rows;
}

/** An open database with its migrations applied. */
export interface Database {
  db: Db;
  kind: "postgres" | "pglite";
  /** Cheap round trip for `/health`. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

const MIGRATIONS = fileURLToPath(new URL("../../drizzle", import.meta.url));

/** Any constant shared by every instance: the key of the advisory lock that serializes migrations. */
const MIGRATION_LOCK = 0x6e75_6261; // "nuba"

/**
 * Opens PostgreSQL at `url` and applies pending migrations. Drizzle's migrator takes no lock, so
 * instances starting together on a fresh database would each run them: one session-level advisory
 * lock makes the others wait and then find nothing left to do.
 */
export async function openPostgres(url: string, poolSize = 10): Promise<Database> {
  // Bounded: a database that stops answering fails a request (503) rather than holding it forever.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
  // A client's socket error (the server restarting, a connection cut) must not crash the process,
  // idle or checked out: the query in flight, or the next one, reports it.
  pool.on("error", () => {});
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = drizzlePg(pool, { schema });
  try {
    const client = await pool.connect();
    try {
      await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
      await migratePg(drizzlePg(client, { schema }), { migrationsFolder: MIGRATIONS });
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
      client.release();
    }
  } catch (err) {
    await pool.end();
    throw err;
  }
  return {
    db: db as unknown as Db,
    kind: "postgres",
    ping: async () => void (await db.execute(sql`select 1`)),
    close: () => pool.end(),
  };
}

/**
 * Opens PGlite in `dataDir` (or in memory when undefined) and applies pending migrations. A new
 * database starts from `template` when given: a dump (`dumpDataDir`) of a migrated one, which
 * takes a fraction of the time `initdb` does (the tests start dozens of databases).
 */
export async function openPglite(dataDir: string | undefined, template?: Blob): Promise<Database> {
  if (dataDir) mkdirSync(path.dirname(dataDir), { recursive: true });
  // PGlite refuses a tarball over an existing database.
  const fresh = !dataDir || !existsSync(path.join(dataDir, "PG_VERSION"));
  const client = await PGlite.create({ ...(dataDir ? { dataDir } : {}), ...(template && fresh ? { loadDataDir: template } : {}) });
  const db = drizzlePglite(client, { schema });
  try {
    await migratePglite(db, { migrationsFolder: MIGRATIONS });
  } catch (err) {
    await client.close();
    throw err;
  }
  return {
    db: db as unknown as Db,
    kind: "pglite",
    ping: async () => void (await db.execute(sql`select 1`)),
    close: () => client.close(),
  };
}

/** A dump of a new, migrated PGlite database: a `template` for `openPglite` (the tests make one per run). */
export async function dumpMigratedPglite(): Promise<Blob> {
  const client = await PGlite.create();
  try {
    await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder: MIGRATIONS });
    return await client.dumpDataDir("none");
  } finally {
    await client.close();
  }
}

const UNAVAILABLE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "08000", "08001", "08003", "08006"]);

/** True when `err` says the database could not be reached (not that a query was wrong). */
export function isUnavailable(err: unknown): boolean {
  let e: unknown = err;
  for (let i = 0; i < 4 && e && typeof e === "object"; i++) {
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === "string" && UNAVAILABLE_CODES.has(code)) return true;
    if (typeof message === "string" && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(message)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** True for PostgreSQL's unique-violation error, whichever driver raised it. */
export function isUniqueViolation(err: unknown): boolean {
  let e: unknown = err;
  // Drizzle wraps driver errors; the SQLSTATE sits on the cause.
  for (let i = 0; i < 3 && e && typeof e === "object"; i++) {
    if ((e as { code?: unknown }).code === "23505") return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
