import { Sealing } from "@nubabel/contracts";
import { DecryptError, UnknownKeyError } from "./errors.js";
import type { Keyring } from "./keyring.js";

const { IV_BYTES, TAG_BYTES } = Sealing;

/**
 * Encrypts with AES-256-GCM under the keyring's current key: `"<keyId>:<base64(iv|tag|ciphertext)>"`.
 * `aad` is authenticated but not stored: the same value must be given to `decrypt`, which is how a
 * blob is bound to its row (a connection id) so it cannot be copied onto another one.
 */
export function encrypt(keyring: Keyring, plaintext: string, aad = ""): string {
  const { iv, tag, body } = Sealing.seal(keyring.keys.get(keyring.current)!, plaintext, aad);
  return `${keyring.current}:${Buffer.concat([iv, tag, body]).toString("base64")}`;
}

/** Opens a blob from `encrypt`. Throws `UnknownKeyError` or `DecryptError`; never returns garbage. */
export function decrypt(keyring: Keyring, blob: string, aad = ""): string {
  const { keyId, bytes } = split(blob);
  const key = keyring.keys.get(keyId);
  if (!key) throw new UnknownKeyError({ keyId, known: [...keyring.keys.keys()] });
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new DecryptError("ciphertext is truncated", { keyId });
  const iv = bytes.subarray(0, IV_BYTES);
  const tag = bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES);
  try {
    return Sealing.open(key, { iv, tag, body: bytes.subarray(IV_BYTES + TAG_BYTES) }, aad);
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
