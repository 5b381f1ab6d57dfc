import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { format, generateKey, parse, type Keyring } from "./keyring.js";

/**
 * The embedded default's keyring: generated once and kept in the data folder (mode 0600), so a
 * zero-setup start still encrypts credentials and later starts can open them. `created` tells the
 * caller to warn: a key beside the data it protects is for development only. Production sets
 * `NUBABEL_ENCRYPTION_KEY` and must not call this.
 */
export async function developmentKeyring(dataDir: string): Promise<{ keyring: Keyring; file: string; created: boolean }> {
  const file = path.join(dataDir, "encryption-key");
  try {
    const text = await readFile(file, "utf8");
    return { keyring: parse(text.trim(), file), file, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const keyring = parse(`dev1:${generateKey()}`, file);
  // `wx` fails if another process created it meanwhile; then its key is the one to use.
  try {
    await writeFile(file, `${format(keyring)}\n`, { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { keyring: parse((await readFile(file, "utf8")).trim(), file), file, created: false };
  }
  return { keyring, file, created: true };
}
