import { NubabelError } from "../errors.js";

/** An organization id that names no organization (404). */
export class OrganizationNotFound extends NubabelError<{ organizationId: string }> {
  override readonly name = "OrganizationNotFound";
  constructor(organizationId: string) {
    super(`no organization ${organizationId}`, { organizationId });
  }
}

/** No such key in the organization (another organization's is answered alike). */
export class ApiKeyNotFound extends NubabelError<{ keyId: string }> {
  override readonly name = "ApiKeyNotFound";
  constructor(keyId: string) {
    super(`API key ${keyId} not found`, { keyId });
  }
}

/** Revoking it would leave the organization without a working key (409). */
export class LastApiKey extends NubabelError<{ keyId: string }> {
  override readonly name = "LastApiKey";
  constructor(keyId: string) {
    super(`${keyId} is the organization's last working API key; make another one first, then revoke this one`, { keyId });
  }
}

/** The organization holds as many unrevoked keys as it may (409). */
export class TooManyApiKeys extends NubabelError<{ limit: number }> {
  override readonly name = "TooManyApiKeys";
  constructor(limit: number) {
    super(`an organization may hold ${limit} unrevoked API keys; revoke one first`, { limit });
  }
}
