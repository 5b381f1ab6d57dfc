import type { SealedCredentialRows } from "../crypto/rotation.js";
import type { ConnectionStore, StoredConnection } from "./connection-store.js";

/**
 * In-process `ConnectionStore` for tests and the CLI's dry runs. Also offers what `keys rotate`
 * needs, so rotation can be tested without a database.
 */
export class MemoryConnectionStore implements ConnectionStore, SealedCredentialRows {
  private readonly rows = new Map<string, StoredConnection>();

  put(row: StoredConnection): void {
    this.rows.set(row.id, structuredClone(row));
  }

  async listEnabled(organizationId: string): Promise<StoredConnection[]> {
    return [...this.rows.values()].filter((r) => r.organizationId === organizationId && r.enabled).map((r) => structuredClone(r));
  }

  async get(organizationId: string, id: string): Promise<StoredConnection | undefined> {
    const row = this.rows.get(id);
    return row && row.organizationId === organizationId ? structuredClone(row) : undefined;
  }

  *listSealed(): Iterable<{ id: string; organizationId: string; sealed: string }> {
    for (const row of [...this.rows.values()]) yield { id: row.id, organizationId: row.organizationId, sealed: row.sealedCredentials };
  }

  async replace(id: string, previous: string, next: string): Promise<boolean> {
    const row = this.rows.get(id);
    if (!row || row.sealedCredentials !== previous) return false;
    row.sealedCredentials = next;
    return true;
  }
}
