import type { FastifyRequest } from "fastify";
import { Capabilities } from "@nubabel/contracts";
import { Organizations, type KeyHolder, type OrganizationStore } from "../organizations/index.js";
import type { HttpDeps } from "./deps.js";
import { Unauthorized } from "./errors.js";
import { enforce } from "./limits.js";

/** The bearer credential of a request, if any. */
export function bearer(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/** The organization whose API key authorizes this request, and the key's id; 401 otherwise. */
export async function requireOrganization(store: OrganizationStore, request: FastifyRequest): Promise<KeyHolder> {
  const key = bearer(request);
  if (!key) throw new Unauthorized("missing API key (Authorization: Bearer nbk_…)");
  const org = await Organizations.authenticate(store, key);
  if (!org) throw new Unauthorized("invalid API key");
  return org;
}

/** Checks a capability token for `aud`; 401 saying why it is refused. */
export function requireCapability(secret: string, token: string | undefined, aud: Capabilities.Capability["aud"]): Capabilities.Capability {
  if (!token) throw new Unauthorized(`missing ${aud} token`);
  try {
    return Capabilities.check(secret, token, aud);
  } catch (err) {
    throw new Unauthorized((err as Error).message);
  }
}

/**
 * A public API request: the organization of its Bearer API key (401 otherwise), its log lines
 * tagged with that organization, and the key's rate limit applied.
 */
export async function authorizeApiKey(deps: Pick<HttpDeps, "organizations" | "rateLimiter" | "config">, request: FastifyRequest): Promise<KeyHolder> {
  const org = await requireOrganization(deps.organizations, request);
  request.log = request.log.child({ organizationId: org.id });
  // Keyed on the key itself, not on how the header spells it: `bearer`, `BEARER` or extra spaces
  // are the same key and share one allowance.
  const keyId = Organizations.hashKey(bearer(request) ?? "").slice(0, 32);
  await enforce(deps.rateLimiter, request, [{ key: `api:${keyId}`, limit: deps.config.apiLimitPerKey, scope: "api key" }]);
  return org;
}
