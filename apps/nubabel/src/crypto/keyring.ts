import { randomBytes } from "node:crypto";
import { KeyringInvalidError } from "./errors.js";

/** Key ids are short labels that must not contain the `:` separating them from the ciphertext. */
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const KEY_BYTES = 32;

/**
 * The encryption keys Nubabel holds: `current` encrypts, every key decrypts. Keeping retired keys
 * is what lets rotation run without downtime: rows not yet re-encrypted still open.
 */
export interface Keyring {
  readonly current: string;
  readonly keys: ReadonlyMap<string, Buffer>;
}

/**
 * Parses `"k2:<base64>,k1:<base64>"`: comma-separated `keyId:key` pairs, the first one current.
 * Each key must be base64 of exactly 32 bytes (`openssl rand -base64 32`). Errors name `variable`
 * and the position of the bad pair, never its value.
 */
export function parse(value: string, variable = "NUBABEL_ENCRYPTION_KEY"): Keyring {
  const fail = (why: string) => new KeyringInvalidError(`${variable}: ${why}`, { variable });
  const pairs = value
    .split(",")
    .map((p) => p.trim())
    .filter((p) => p !== "");
  if (pairs.length === 0) throw fail(`is empty; expected "keyId:<base64 of 32 bytes>[,olderId:<base64>…]"`);
  const keys = new Map<string, Buffer>();
  pairs.forEach((pair, i) => {
    const at = `entry ${i + 1}`;
    const sep = pair.indexOf(":");
    if (sep < 0) throw fail(`${at} has no key id; expected "keyId:<base64 of 32 bytes>"`);
    const id = pair.slice(0, sep);
    const encoded = pair.slice(sep + 1);
    if (!KEY_ID.test(id)) throw fail(`${at}: key id "${id}" must be 1-32 letters, digits, _ or -`);
    if (keys.has(id)) throw fail(`${at}: key id "${id}" appears twice`);
    keys.set(id, decodeKey(encoded, () => fail(`${at} (key "${id}") must be base64 of exactly ${KEY_BYTES} bytes`)));
  });
  const current = pairs[0]!.slice(0, pairs[0]!.indexOf(":"));
  return { current, keys };
}

/** A keyring of one key, for tests and for the development key kept in the data folder. */
export function single(id: string, key: Buffer | string): Keyring {
  const bytes = typeof key === "string" ? Buffer.from(key, "base64") : key;
  return parse(`${id}:${bytes.toString("base64")}`);
}

/** The keyring as the variable's text, current key first (for writing a development key file). */
export function format(keyring: Keyring): string {
  const ids = [keyring.current, ...[...keyring.keys.keys()].filter((k) => k !== keyring.current)];
  return ids.map((id) => `${id}:${keyring.keys.get(id)!.toString("base64")}`).join(",");
}

/** 32 fresh random bytes in base64, the same thing `openssl rand -base64 32` prints. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString("base64");
}

function decodeKey(encoded: string, fail: () => KeyringInvalidError): Buffer {
  // Buffer.from silently drops bad characters; insist on canonical base64 so a typo is caught.
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw fail();
  const bytes = Buffer.from(encoded, "base64");
  if (bytes.length !== KEY_BYTES || bytes.toString("base64") !== encoded) throw fail();
  return bytes;
}
