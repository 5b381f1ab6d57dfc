import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptError, UnknownKeyError } from "./errors.js";
import type { Keyring } from "./keyring.js";

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Encrypts with AES-256-GCM under the keyring's current key: `"<keyId>:<base64(iv|tag|ciphertext)>"`.
 * `aad` is authenticated but not stored: the same value must be given to `decrypt`, which is how a
 * blob is bound to its row (a connection id) so it cannot be copied onto another one.
 */
export function encrypt(keyring: Keyring, plaintext: string, aad = ""): string {
  const key = keyring.keys.get(keyring.current)!;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return `${keyring.current}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
}

/** Opens a blob from `encrypt`. Throws `UnknownKeyError` or `DecryptError`; never returns garbage. */
export function decrypt(keyring: Keyring, blob: string, aad = ""): string {
  const { keyId, bytes } = split(blob);
  const key = keyring.keys.get(keyId);
  if (!key) throw new UnknownKeyError({ keyId, known: [...keyring.keys.keys()] });
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new DecryptError("ciphertext is truncated", { keyId });
  const decipher = createDecipheriv("aes-256-gcm", key, bytes.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new DecryptError(
      "ciphertext failed authentication (tampered, moved to another record, or a different key under the same id)",
      { keyId },
    );
  }
}

/** The id of the key a blob was encrypted under. */
export function keyIdOf(blob: string): string {
  return split(blob).keyId;
}

/** True when the blob is not under the current key, i.e. `keys rotate` still has to re-encrypt it. */
export function needsRotation(keyring: Keyring, blob: string): boolean {
  return keyIdOf(blob) !== keyring.current;
}

/** The blob re-encrypted under the current key, or the same blob when it already is. */
export function rotate(keyring: Keyring, blob: string, aad = ""): string {
  return needsRotation(keyring, blob) ? encrypt(keyring, decrypt(keyring, blob, aad), aad) : blob;
}

function split(blob: string): { keyId: string; bytes: Buffer } {
  const sep = blob.indexOf(":");
  if (sep <= 0) throw new DecryptError('ciphertext has no "keyId:" prefix', {});
  const keyId = blob.slice(0, sep);
  const encoded = blob.slice(sep + 1);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) throw new DecryptError("ciphertext is not base64", { keyId });
  return { keyId, bytes: Buffer.from(encoded, "base64") };
}
