import { createHash, randomBytes } from "node:crypto";
import { Ids } from "@nubabel/contracts";

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

/** The organization an API key authenticates, and which of its keys that is. */
export interface KeyHolder extends Organization {
  keyId: string;
}

/** A new key as stored: only its hash and a display prefix; the key itself is shown once. */
export interface StoredKey {
  id: string;
  hash: string;
  prefix: string;
}

/** A key as listed: never the key itself; `hash` stays inside Nubabel. */
export interface KeyRecord {
  id: string;
  organizationId: string;
  prefix: string;
  name?: string;
  hash: string;
  createdAt: Date;
  revokedAt?: Date;
}

/**
 * Durable organizations and their API keys. `create` writes the organization and its first key
 * atomically; `findByKeyHash` ignores revoked keys. `addKey` and `revokeKey` each hold the
 * organization's row while they count its keys, so it never ends with more than `maxActive`
 * unrevoked keys, nor with none.
 */
export interface OrganizationStore {
  create(org: { id: string; name: string }, key: StoredKey): Promise<Organization>;
  list(): Promise<Array<Organization & { keys: number }>>;
  findByKeyHash(hash: string): Promise<KeyHolder | undefined>;
  /** Whether the organization has the key `keyId`, unrevoked. */
  isKeyActive(organizationId: string, keyId: string): Promise<boolean>;
  /** The organization's keys, oldest first; undefined when there is no such organization. */
  listKeys(organizationId: string): Promise<KeyRecord[] | undefined>;
  /** Adds a key unless `bounds.active` unrevoked ones exist; keeps the latest `bounds.revoked` revoked ones. */
  addKey(organizationId: string, key: StoredKey & { name?: string }, bounds: { active: number; revoked: number }): Promise<KeyRecord | "no_organization" | "too_many">;
  /** Revokes the key (`now`: false for one revoked before); "last_key" when no other key would be left. */
  revokeKey(organizationId: string, keyId: string): Promise<{ key: KeyRecord; now: boolean } | "no_organization" | "not_found" | "last_key">;
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
export async function authenticate(store: OrganizationStore, key: string): Promise<KeyHolder | undefined> {
  if (!key.startsWith(`${Ids.Prefix.apiKey}_`) || key.length > 200) return undefined;
  return store.findByKeyHash(hashKey(key));
}
