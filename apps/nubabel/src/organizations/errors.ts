import { NubabelError } from "../errors.js";

/** An organization id that names no organization (404). */
export class OrganizationNotFound extends NubabelError<{ organizationId: string }> {
  override readonly name = "OrganizationNotFound";
  constructor(organizationId: string) {
    super(`no organization ${organizationId}`, { organizationId });
  }
}
