import { type ApiKeyCreated, type ApiKeyRevoked, type ApiKeyView, KEPT_REVOKED_API_KEYS, MAX_API_KEYS } from "@nubabel/contracts";
import type { AuditLog } from "../audit/index.js";
import { ApiKeyNotFound, LastApiKey, OrganizationNotFound, TooManyApiKeys } from "./errors.js";
import { generateKey, hashKey, type KeyRecord, type OrganizationStore } from "./organizations.js";

export interface ApiKeysDeps {
  store: OrganizationStore;
  audit?: Pick<AuditLog, "record">;
  /** Who the changes are by, in the audit: `api` (an organization's key) or `operator` (the CLI). */
  actor: "api" | "operator";
  /**
   * Told of each key revoked, where no cache of this process hears of it (the CLI tells the running
   * servers; a server's `withKeyCache` store does so itself).
   */
  revoked?: (key: KeyRecord) => Promise<void>;
}

/**
 * An organization's API keys: list, make, revoke. A key is returned once, when made; a revoked one
 * stops working at once on this instance and, through the store's cache, on the others (see
 * `withKeyCache`). Each change leaves an `api_key` entry in the audit trail.
 */
export class ApiKeys {
  constructor(private readonly deps: ApiKeysDeps) {}

  /** `currentKey`: the key of the request, marked `current`. */
  async list(organizationId: string, currentKey?: string): Promise<ApiKeyView[]> {
    const keys = await this.deps.store.listKeys(organizationId);
    if (!keys) throw new OrganizationNotFound(organizationId);
    const current = currentKey ? hashKey(currentKey) : undefined;
    return keys.map((key) => ({ ...view(key), ...(current ? { current: key.hash === current } : {}) }));
  }

  async create(organizationId: string, name?: string): Promise<ApiKeyCreated> {
    const { key, stored } = generateKey();
    const made = await this.deps.store.addKey(organizationId, { ...stored, ...(name ? { name } : {}) }, { active: MAX_API_KEYS, revoked: KEPT_REVOKED_API_KEYS });
    if (made === "no_organization") throw new OrganizationNotFound(organizationId);
    if (made === "too_many") throw new TooManyApiKeys(MAX_API_KEYS);
    await this.audit(made, "create");
    return { ...view(made), apiKey: key };
  }

  /** Revokes the key; one revoked before is answered as it was (same `revokedAt`), and not audited again. */
  async revoke(organizationId: string, keyId: string): Promise<ApiKeyRevoked> {
    const revoked = await this.deps.store.revokeKey(organizationId, keyId);
    if (revoked === "no_organization") throw new OrganizationNotFound(organizationId);
    if (revoked === "not_found") throw new ApiKeyNotFound(keyId);
    if (revoked === "last_key") throw new LastApiKey(keyId);
    if (revoked.now) {
      await this.deps.revoked?.(revoked.key);
      await this.audit(revoked.key, "revoke");
    }
    return { id: revoked.key.id, revokedAt: revoked.key.revokedAt!.toISOString() };
  }

  private async audit(key: KeyRecord, action: "create" | "revoke"): Promise<void> {
    // The key's name is the caller's words, and the audit's `detail` is Nubabel's own: id and prefix only.
    const detail = `${key.id} (${key.prefix}…)`;
    await this.deps.audit?.record({ organizationId: key.organizationId, kind: "api_key", actor: this.deps.actor, action, status: "ok", detail });
  }
}

function view(key: KeyRecord): ApiKeyView {
  return {
    id: key.id,
    prefix: key.prefix,
    ...(key.name ? { name: key.name } : {}),
    createdAt: key.createdAt.toISOString(),
    ...(key.revokedAt ? { revokedAt: key.revokedAt.toISOString() } : {}),
  };
}
