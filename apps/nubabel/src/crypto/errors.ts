import { NubabelError } from "../errors.js";

/**
 * Errors of credential encryption. None carries key material or plaintext: their messages may be
 * logged and their `data` may reach an operator.
 */

/** The keyring variable is malformed; `variable` names it so a start-up failure points at it. */
export class KeyringInvalidError extends NubabelError<{ variable: string }> {
  override readonly name = "KeyringInvalidError" as const;
}

/** A ciphertext names a key the keyring no longer (or never) had. */
export class UnknownKeyError extends NubabelError<{ keyId: string; known: string[] }> {
  override readonly name = "UnknownKeyError" as const;
  constructor(data: { keyId: string; known: string[] }) {
    super(
      `ciphertext was encrypted under key "${data.keyId}", which is not in the keyring (known: ${data.known.join(", ")}); ` +
        `keep the old key after the current one until "nubabel keys rotate" has run`,
      data,
    );
  }
}

/**
 * The ciphertext failed authentication: tampered with, truncated, moved to another row (AAD), or
 * encrypted under a different key with the same id.
 */
export class DecryptError extends NubabelError<{ keyId?: string }> {
  override readonly name = "DecryptError" as const;
}
