import { needsRotation, rotate } from "./cipher.js";
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
  /** What each row holds, for the audit: a connection's credentials unless said ("webhook secret"). */
  noun?: string;
  /** The associated data a row's value is sealed with: a connection's credentials' unless said. */
  aadOf?(id: string): string;
  /** Every row of every organization, with its sealed value. */
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
 * Re-encrypts every sealed value of `sources` (connections' credentials, webhook signing secrets)
 * under the keyring's current key. Run it after deploying a keyring with the new key first and the
 * old ones after it; remove the old keys once it reports nothing left. Idempotent: a second run
 * rotates nothing. Each organization whose rows it touched gets one `key_rotation` entry in `audit`
 * (by the operator), saying how many of each.
 */
export async function rotateAll(
  keyring: Keyring,
  sources: SealedCredentialRows | SealedCredentialRows[],
  audit?: Pick<AuditLog, "record">,
): Promise<RotationReport> {
  const report: RotationReport = { rotated: 0, alreadyCurrent: 0, skipped: 0 };
  const touched = new Map<string, Map<string, { rotated: number; skipped: number }>>();
  for (const rows of Array.isArray(sources) ? sources : [sources]) {
    const noun = rows.noun ?? "connection";
    for await (const row of rows.listSealed()) {
      if (!needsRotation(keyring, row.sealed)) {
        report.alreadyCurrent++;
        continue;
      }
      const next = rows.aadOf ? rotate(keyring, row.sealed, rows.aadOf(row.id)) : reseal(keyring, row.id, row.sealed);
      const done = await rows.replace(row.id, row.sealed, next);
      if (done) report.rotated++;
      else report.skipped++;
      const byNoun = touched.get(row.organizationId) ?? new Map<string, { rotated: number; skipped: number }>();
      const counts = byNoun.get(noun) ?? { rotated: 0, skipped: 0 };
      counts[done ? "rotated" : "skipped"]++;
      byNoun.set(noun, counts);
      touched.set(row.organizationId, byNoun);
    }
  }
  for (const [organizationId, byNoun] of touched) {
    const parts = [...byNoun].map(([noun, counts]) => `${counts.rotated} ${noun}${counts.rotated === 1 ? "" : "s"}`);
    const skippedCount = [...byNoun.values()].reduce((sum, counts) => sum + counts.skipped, 0);
    const skipped = skippedCount ? `, ${skippedCount} skipped (changed meanwhile)` : "";
    await audit?.record({
      organizationId,
      kind: "key_rotation",
      actor: "operator",
      action: "rotate",
      status: "ok",
      detail: `${parts.join(" and ")} re-encrypted under key ${keyring.current}${skipped}`,
    });
  }
  return report;
}
