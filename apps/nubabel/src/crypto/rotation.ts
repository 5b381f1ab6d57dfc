import { needsRotation } from "./cipher.js";
import { reseal } from "./credentials.js";
import type { AuditLog } from "../audit/index.js";
import type { Keyring } from "./keyring.js";

type SealedRow = { id: string; organizationId: string; sealed: string };

/**
 * What `keys rotate` needs from storage. `replace` is a compare-and-swap: it writes `next` only if
 * the row still holds `previous`, so a concurrent credential update (PATCH) is never overwritten
 * with stale plaintext, and the service keeps running during rotation.
 */
export interface SealedCredentialRows {
  /** Every connection of every organization, with its sealed credentials. */
  listSealed(): AsyncIterable<SealedRow> | Iterable<SealedRow>;
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
 * nothing left. Idempotent: a second run rotates nothing. Each organization whose credentials it
 * touched gets one `key_rotation` entry in `audit` (by the operator), saying how many.
 */
export async function rotateAll(keyring: Keyring, rows: SealedCredentialRows, audit?: Pick<AuditLog, "record">): Promise<RotationReport> {
  const report: RotationReport = { rotated: 0, alreadyCurrent: 0, skipped: 0 };
  const touched = new Map<string, { rotated: number; skipped: number }>();
  for await (const row of rows.listSealed()) {
    if (!needsRotation(keyring, row.sealed)) {
      report.alreadyCurrent++;
      continue;
    }
    const next = reseal(keyring, row.id, row.sealed);
    const done = await rows.replace(row.id, row.sealed, next);
    if (done) report.rotated++;
    else report.skipped++;
    const counts = touched.get(row.organizationId) ?? { rotated: 0, skipped: 0 };
    counts[done ? "rotated" : "skipped"]++;
    touched.set(row.organizationId, counts);
  }
  for (const [organizationId, counts] of touched) {
    const skipped = counts.skipped ? `, ${counts.skipped} skipped (changed meanwhile)` : "";
    await audit?.record({
      organizationId,
      kind: "key_rotation",
      actor: "operator",
      action: "rotate",
      status: "ok",
      detail: `${counts.rotated} connection${counts.rotated === 1 ? "" : "s"} re-encrypted under key ${keyring.current}${skipped}`,
    });
  }
  return report;
}
