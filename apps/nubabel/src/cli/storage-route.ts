import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { isEmbedded, type Env } from "../config/env.js";
import { dataPath } from "../config/files.js";
import { EmbeddedDatabaseBusy, lockHolder } from "../db/embedded-lock.js";

/** A call to the running server's loopback admin endpoint; resolves with its JSON answer. */
export type AdminCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/**
 * Runs a CLI command against the configured storage. PostgreSQL takes any number of clients, so
 * the CLI opens it directly (applying migrations like the server). PGlite may be open in one
 * process only: when a server holds it, the command goes through that server's loopback admin
 * endpoint (secret in `<data dir>/admin.secret`); otherwise it takes the database's lock and opens
 * it itself. A server starting meanwhile waits for the lock (and vice versa), so neither corrupts it.
 */
export async function withStorage<T>(
  env: Env,
  route: { direct: () => Promise<T>; viaServer: (call: AdminCall) => Promise<T> },
  waitMs = 15_000,
): Promise<T> {
  if (!isEmbedded(env)) return route.direct();
  const deadline = Date.now() + waitMs;
  for (;;) {
    const server = runningServer(env);
    if (server) {
      try {
        return await route.viaServer(adminCall(server.url, server.secret));
      } catch (err) {
        if (!(err instanceof ServerGone)) throw err;
      }
    } else {
      try {
        return await route.direct();
      } catch (err) {
        if (!(err instanceof EmbeddedDatabaseBusy)) throw err;
      }
    }
    if (Date.now() > deadline) throw new Error("the embedded database stayed busy (is a server starting or stopping?)");
    await sleep(200);
  }
}

/** The server went away between finding it and calling it: try the database directly instead. */
class ServerGone extends Error {}

function runningServer(env: Env): { url: string; secret: string } | undefined {
  try {
    const info = JSON.parse(readFileSync(dataPath(env.NUBABEL_DATA_DIR, "server.json"), "utf8")) as { url: string; pid: number };
    if (lockHolder(dataPath(env.NUBABEL_DATA_DIR, "pglite.lock")) !== info.pid) return undefined;
    return { url: info.url, secret: readFileSync(dataPath(env.NUBABEL_DATA_DIR, "admin.secret"), "utf8").trim() };
  } catch {
    return undefined;
  }
}

function adminCall(url: string, secret: string): AdminCall {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${secret}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch {
      throw new ServerGone();
    }
    const json = (await response.json()) as T & { error?: { message: string } };
    if (!response.ok) throw new Error(json.error?.message ?? `server answered ${response.status}`);
    return json;
  };
}
