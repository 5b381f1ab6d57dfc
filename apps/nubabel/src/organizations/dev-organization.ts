import { readFileSync } from "node:fs";
import { z } from "zod";
import { writePrivate } from "../config/files.js";
import { KEPT_REVOKED_API_KEYS, MAX_API_KEYS } from "@nubabel/contracts";
import { authenticate, create, generateKey, type OrganizationStore } from "./organizations.js";

const DevOrganization = z.object({ organizationId: z.string(), apiKey: z.string() });
export type DevOrganization = z.infer<typeof DevOrganization>;

/**
 * The development organization of the embedded default: created on first start and written to
 * `file` (mode 0600) so a person can find the key again. When its key was revoked, the same
 * organization gets a new key in the file; it is re-created only when the organization itself is
 * gone (say, the database was deleted but not the file).
 */
export async function ensureDevOrganization(store: OrganizationStore, file: string): Promise<{ org: DevOrganization; created: boolean }> {
  try {
    const existing = DevOrganization.parse(JSON.parse(readFileSync(file, "utf8")));
    const org = await authenticate(store, existing.apiKey);
    if (org?.id === existing.organizationId) return { org: existing, created: false };
    const { key, stored } = generateKey();
    const added = await store.addKey(existing.organizationId, { ...stored, name: "development" }, { active: MAX_API_KEYS, revoked: KEPT_REVOKED_API_KEYS });
    if (typeof added === "object") {
      const rekeyed = { organizationId: existing.organizationId, apiKey: key };
      writePrivate(file, `${JSON.stringify(rekeyed, null, 2)}\n`);
      return { org: rekeyed, created: false };
    }
  } catch {
    // Missing, unreadable or stale: make a new one below.
  }
  const org = await create(store, "Development");
  writePrivate(file, `${JSON.stringify(org, null, 2)}\n`);
  return { org, created: true };
}
