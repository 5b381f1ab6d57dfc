import { readFileSync } from "node:fs";
import { z } from "zod";
import { writePrivate } from "../config/files.js";
import { ApiKeys } from "./api-keys.js";
import { authenticate, create, type OrganizationStore } from "./organizations.js";

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
    // Its key was revoked: a new one for the same organization (which throws when it is gone).
    const { apiKey } = await new ApiKeys({ store, actor: "operator" }).create(existing.organizationId, "development");
    const rekeyed = { organizationId: existing.organizationId, apiKey };
    writePrivate(file, `${JSON.stringify(rekeyed, null, 2)}\n`);
    return { org: rekeyed, created: false };
  } catch {
    // Missing, unreadable, or naming an organization that is gone: make a new one below.
  }
  const org = await create(store, "Development");
  writePrivate(file, `${JSON.stringify(org, null, 2)}\n`);
  return { org, created: true };
}
