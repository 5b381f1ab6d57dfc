import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/** Files Nubabel keeps in its data folder. */
export const FILES = {
  pglite: "pglite",
  pgliteLock: "pglite.lock",
  tokenSecret: "token.secret",
  adminSecret: "admin.secret",
  server: "server.json",
  devOrganization: "dev-organization.json",
} as const;

export function dataPath(dataDir: string, name: (typeof FILES)[keyof typeof FILES]): string {
  return path.join(dataDir, name);
}

/** Writes a file only its owner can read (secrets, the development key). */
export function writePrivate(file: string, content: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
  // `mode` applies only when the file is created; tighten an existing one too.
  chmodSync(file, 0o600);
}

/** Reads the secret in `file`, creating a random one the first time. */
export function keptSecret(file: string): string {
  try {
    const existing = readFileSync(file, "utf8").trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const secret = randomBytes(32).toString("base64url");
  writePrivate(file, `${secret}\n`);
  return secret;
}
