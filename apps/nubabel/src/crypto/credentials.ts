import { z } from "zod";
import { decrypt, encrypt, rotate } from "./cipher.js";
import { DecryptError } from "./errors.js";
import type { Keyring } from "./keyring.js";

/** A connection's credentials in the clear: names (env vars or headers) to values. */
export const Credentials = z.record(z.string(), z.string());
export type Credentials = z.infer<typeof Credentials>;

// Versioned so the binding can change later without silently opening old rows under new rules.
const aadFor = (connectionId: string) => `nubabel/mcp-credentials/v1/${connectionId}`;

/** Encrypts a connection's credentials as one blob bound to `connectionId`. */
export function seal(keyring: Keyring, connectionId: string, credentials: Credentials): string {
  return encrypt(keyring, JSON.stringify(credentials), aadFor(connectionId));
}

/** Opens what `seal` made for the same connection id; a blob copied from another row fails. */
export function open(keyring: Keyring, connectionId: string, blob: string): Credentials {
  const json = decrypt(keyring, blob, aadFor(connectionId));
  const parsed = Credentials.safeParse(JSON.parse(json));
  if (!parsed.success) throw new DecryptError("decrypted credentials are not an object of strings", {});
  return parsed.data;
}

/** Re-encrypts under the current key (same blob when already current); for `keys rotate`. */
export function reseal(keyring: Keyring, connectionId: string, blob: string): string {
  return rotate(keyring, blob, aadFor(connectionId));
}
