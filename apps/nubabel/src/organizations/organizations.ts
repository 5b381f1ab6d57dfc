import { createHash, randomBytes } from "node:crypto";
import { Ids } from "@nubabel/contracts";

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

/** A new key as stored: only its hash and a display prefix; the key itself is shown once. */
export interface StoredKey {
  id: string;
  hash: string;
  prefix: string;
}

/**
 * Durable organizations and their API keys. `create` writes the organization and its first key
 * atomically; `findByKeyHash` ignores revoked keys.
 */
export interface OrganizationStore {
  create(org: { id: string; name: string }, key: StoredKey): Promise<Organization>;
  list(): Promise<Array<Organization & { keys: number }>>;
  findByKeyHash(hash: string): Promise<Organization | undefined>;
}

/** SHA-256 hex: API keys carry 256 random bits, so a fast hash is enough (no password stretching needed). */
export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** `nbk_` + 43 base64url characters. */
export function generateKey(): { key: string; stored: StoredKey } {
  const key = `${Ids.Prefix.apiKey}_${randomBytes(32).toString("base64url")}`;
  return { key, stored: { id: `key_${randomBytes(8).toString("hex")}`, hash: hashKey(key), prefix: key.slice(0, 10) } };
}

/** Creates an organization with one API key; the key is returned here and never again. */
export async function create(
  store: OrganizationStore,
  name: string,
): Promise<{ organizationId: string; apiKey: string }> {
  const { key, stored } = generateKey();
  const org = await store.create({ id: Ids.create(Ids.Prefix.organization), name }, stored);
  return { organizationId: org.id, apiKey: key };
}

/** The organization owning `key`, or undefined for a malformed, unknown or revoked key. */
export async function authenticate(store: OrganizationStore, key: string): Promise<Organization | undefined> {
  if (!key.startsWith(`${Ids.Prefix.apiKey}_`) || key.length > 200) return undefined;
  return store.findByKeyHash(hashKey(key));
}
