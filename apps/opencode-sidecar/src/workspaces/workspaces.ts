import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";

import { RESERVED_FOLDERS } from "../sandbox/confine.js";

/**
 * One folder per organization under the data folder: each is its own engine instance, so one
 * organization's files, sessions and plugins state never mix with another's. Organization ids are
 * validated (`org_` + alphanumerics) at the boundary, so they are safe as folder names.
 */
export class Workspaces {
  /** Workspaces whose reserved folders this process has laid down. */
  private readonly prepared = new Map<string, Promise<void>>();

  /** `omoFiles`: what `.omo` holds (name → content); empty when OhMyOpenCode is off. */
  constructor(
    private readonly root: string,
    private readonly omoFiles: Record<string, string> = {},
  ) {}

  dir(organizationId: string): string {
    return path.join(this.root, organizationId);
  }

  /** The organization's folder, with its reserved folders as the sidecar wants them. */
  async ensure(organizationId: string): Promise<string> {
    const dir = this.dir(organizationId);
    let prepared = this.prepared.get(dir);
    if (!prepared) {
      prepared = this.prepare(dir);
      this.prepared.set(dir, prepared);
      prepared.catch(() => this.prepared.delete(dir));
    }
    await prepared;
    return dir;
  }

  // Whatever an agent left there before (a file, a link, its own config) is replaced.
  private async prepare(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    for (const name of RESERVED_FOLDERS) {
      const folder = path.join(dir, name);
      await rm(folder, { recursive: true, force: true });
      await mkdir(folder);
    }
    for (const [name, content] of Object.entries(this.omoFiles)) await writeFile(path.join(dir, ".omo", name), content);
  }
}
