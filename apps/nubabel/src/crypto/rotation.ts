import { needsRotation } from "./cipher.js";
import { reseal } from "./credentials.js";
import type { Keyring } from "./keyring.js";

/**
 * What `keys rotate` needs from storage. `replace` is a compare-and-swap: it writes `next` only if
 * the row still holds `previous`, so a concurrent credential update (PATCH) is never overwritten
 * with stale plaintext, and the service keeps running during rotation.
 */
export interface SealedCredentialRows {
  /** Every connection of every organization, with its sealed credentials. */
  listSealed(): AsyncIterable<{ id: string; sealed: string }> | Iterable<{ id: string; sealed: string }>;
  /** Writes `next` where the row still holds `previous`; false when it changed meanwhile. */
  replace(id: string, previous: string, next: string): Promise<boolean>;
}

export interface RotationReport {
  rotated: number;
  alreadyCurrent: number;
  /** Rows changed by someone else meanwhile; a second run picks them up if still needed. */
  skipped: number;
}

/**
 * Re-encrypts every credential blob under the keyring's current key. Run it after deploying a
 * keyring with the new key first and the old ones after it; remove the old keys once it reports
 * nothing left. Idempotent: a second run rotates nothing.
 */
export async function rotateAll(keyring: Keyring, rows: SealedCredentialRows): Promise<RotationReport> {
  const report: RotationReport = { rotated: 0, alreadyCurrent: 0, skipped: 0 };
  for await (const row of rows.listSealed()) {
    if (!needsRotation(keyring, row.sealed)) {
      report.alreadyCurrent++;
      continue;
    }
    const next = reseal(keyring, row.id, row.sealed);
    if (await rows.replace(row.id, row.sealed, next)) report.rotated++;
    else report.skipped++;
  }
  return report;
}
