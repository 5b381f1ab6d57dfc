import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * AES-256-GCM with a 12-byte IV and a 16-byte tag, the one way both services seal a secret they
 * store (Nubabel's connection credentials, the sidecar's callback tokens in Redis). Each keeps its
 * own stored format; this holds the cipher, so neither can drift into accepting a short tag.
 */
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

/** The three parts of a sealed value; how they are laid out in storage is the caller's format. */
export interface Sealed {
  iv: Buffer;
  tag: Buffer;
  body: Buffer;
}

/**
 * Encrypts `plaintext` under a 32-byte key with a fresh IV. `aad` is authenticated but not stored:
 * `open` must be given the same value (an empty one is the same as none).
 */
export function seal(key: Buffer, plaintext: string, aad = ""): Sealed {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return { iv, tag: cipher.getAuthTag(), body };
}

/**
 * The plaintext of a value from `seal`. Throws when it does not authenticate (another key or
 * `aad`, tampered) and when its IV or tag is not full length: GCM itself would check a tag cut to
 * 4 bytes against 4 bytes only, which an attacker can forge.
 */
export function open(key: Buffer, sealed: Sealed, aad = ""): string {
  if (sealed.iv.length !== IV_BYTES) throw new Error(`sealed value has a ${sealed.iv.length}-byte IV, not ${IV_BYTES}`);
  if (sealed.tag.length !== TAG_BYTES) throw new Error(`sealed value has a ${sealed.tag.length}-byte tag, not ${TAG_BYTES}`);
  const decipher = createDecipheriv("aes-256-gcm", key, sealed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(sealed.tag);
  return Buffer.concat([decipher.update(sealed.body), decipher.final()]).toString("utf8");
}
