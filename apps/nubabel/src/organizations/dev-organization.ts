import { readFileSync } from "node:fs";
import { z } from "zod";
import { writePrivate } from "../config/files.js";
import { authenticate, create, type OrganizationStore } from "./organizations.js";

const DevOrganization = z.object({ organizationId: z.string(), apiKey: z.string() });
export type DevOrganization = z.infer<typeof DevOrganization>;

/**
 * The development organization of the embedded default: created on first start and written to
 * `file` (mode 0600) so a person can find the key again. Re-created if the file no longer matches
 * the database (say, the database was deleted but not the file).
 */
export async function ensureDevOrganization(store: OrganizationStore, file: string): Promise<{ org: DevOrganization; created: boolean }> {
  try {
    const existing = DevOrganization.parse(JSON.parse(readFileSync(file, "utf8")));
    const org = await authenticate(store, existing.apiKey);
    if (org?.id === existing.organizationId) return { org: existing, created: false };
  } catch {
    // Missing, unreadable or stale: make a new one below.
  }
  const org = await create(store, "Development");
  writePrivate(file, `${JSON.stringify(org, null, 2)}\n`);
  return { org, created: true };
}
