import { mkdir } from "node:fs/promises";
import path from "node:path";

/**
 * One folder per organization under the data folder: each is its own engine instance, so one
 * organization's files, sessions and plugins state never mix with another's. Organization ids are
 * validated (`org_` + alphanumerics) at the boundary, so they are safe as folder names.
 */
export class Workspaces {
  constructor(private readonly root: string) {}

  dir(organizationId: string): string {
    return path.join(this.root, organizationId);
  }

  async ensure(organizationId: string): Promise<string> {
    const dir = this.dir(organizationId);
    await mkdir(dir, { recursive: true });
    return dir;
  }
}
