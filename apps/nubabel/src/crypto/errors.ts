/**
 * Errors of credential encryption. None carries key material or plaintext: their messages may be
 * logged and their `data` may reach an operator.
 */

/** The keyring variable is malformed; `variable` names it so a start-up failure points at it. */
export class KeyringInvalidError extends Error {
  override readonly name = "KeyringInvalidError" as const;
  constructor(
    message: string,
    readonly data: { variable: string },
  ) {
    super(message);
  }
}

/** A ciphertext names a key the keyring no longer (or never) had. */
export class UnknownKeyError extends Error {
  override readonly name = "UnknownKeyError" as const;
  constructor(readonly data: { keyId: string; known: string[] }) {
    super(
      `ciphertext was encrypted under key "${data.keyId}", which is not in the keyring (known: ${data.known.join(", ")}); ` +
        `keep the old key after the current one until "nubabel keys rotate" has run`,
    );
  }
}

/**
 * The ciphertext failed authentication: tampered with, truncated, moved to another row (AAD), or
 * encrypted under a different key with the same id.
 */
export class DecryptError extends Error {
  override readonly name = "DecryptError" as const;
  constructor(
    message: string,
    readonly data: { keyId?: string },
  ) {
    super(message);
  }
}
