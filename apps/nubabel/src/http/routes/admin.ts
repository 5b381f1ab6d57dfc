import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { CreateApiKeyRequest, CreateConnectionRequest, Ids } from "@nubabel/contracts";
import { Organizations } from "../../organizations/index.js";
import { SlackTeamId } from "../../slack/index.js";
import { bearer } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { Forbidden, parse, Unauthorized } from "../errors.js";
import { ApiKeyPath, CreateOrganization } from "../schemas.js";

/**
 * The CLI's door on the embedded default, where PGlite may be open in one process only. Loopback
 * callers holding the secret in `<data dir>/admin.secret` (mode 0600: whoever can read it could
 * open the database files anyway) may create and list organizations.
 */
export function adminRoutes(app: FastifyInstance, deps: HttpDeps, secret: string): void {
  const expected = Buffer.from(secret);
  const guard = (request: FastifyRequest) => {
    if (!isLoopback(request.socket.remoteAddress)) throw new Forbidden("loopback_only", "admin endpoints answer loopback only");
    const given = Buffer.from(bearer(request) ?? "");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new Unauthorized("invalid admin secret");
  };

  app.post("/admin/organizations", async (request, reply) => {
    guard(request);
    const { name } = parse(CreateOrganization, request.body);
    return reply.status(201).send(await Organizations.create(deps.organizations, name));
  });

  app.get("/admin/organizations", async (request) => {
    guard(request);
    const orgs = await deps.organizations.list();
    return { organizations: orgs.map((o) => ({ ...o, createdAt: o.createdAt.toISOString() })) };
  });

  app.post("/admin/slack-links", async (request, reply) => {
    guard(request);
    const { teamId, organizationId } = parse(SlackLinkRequest, request.body);
    if (!deps.admin?.slackLinks) throw new Forbidden("not_supported", "this server does not manage Slack links");
    await deps.admin.slackLinks.link(teamId, organizationId);
    return reply.status(201).send({ teamId, organizationId });
  });

  // `nubabel keys rotate`: the server re-encrypts under its own current key. The CLI says which key
  // it expects to be current, so a server started before the new key was deployed is not mistaken
  // for a finished rotation.
  app.post("/admin/keys/rotate", async (request) => {
    guard(request);
    const { expectCurrent } = parse(RotateKeys, request.body);
    const rotation = deps.admin?.rotation;
    if (!rotation) throw new Forbidden("not_supported", "this server cannot rotate keys");
    if (rotation.keyId !== expectCurrent) {
      throw new Forbidden(
        "key_mismatch",
        `the running server's current key is "${rotation.keyId}", not "${expectCurrent}"; restart it with the new NUBABEL_ENCRYPTION_KEY first`,
      );
    }
    return rotation.rotate();
  });

  app.post("/admin/organizations/:organizationId/connections", async (request, reply) => {
    guard(request);
    const { organizationId } = parse(AdminOrgPath, request.params, "path");
    return reply.status(201).send(await adminConnections().create(organizationId, parse(CreateConnectionRequest, request.body)));
  });

  app.get("/admin/organizations/:organizationId/connections", async (request) => {
    guard(request);
    const { organizationId } = parse(AdminOrgPath, request.params, "path");
    return { connections: await adminConnections().list(organizationId) };
  });

  // `nubabel org keys|add-key|revoke-key` on the embedded default.
  app.get("/admin/organizations/:organizationId/api-keys", async (request) => {
    guard(request);
    const { organizationId } = parse(AdminOrgPath, request.params, "path");
    return { keys: await adminKeys().list(organizationId) };
  });

  app.post("/admin/organizations/:organizationId/api-keys", async (request, reply) => {
    guard(request);
    const { organizationId } = parse(AdminOrgPath, request.params, "path");
    const { name } = parse(CreateApiKeyRequest, request.body ?? {});
    return reply.status(201).send(await adminKeys().create(organizationId, name));
  });

  app.post("/admin/organizations/:organizationId/api-keys/:keyId/revoke", async (request) => {
    guard(request);
    const { organizationId, keyId } = parse(AdminOrgPath.extend(ApiKeyPath.shape), request.params, "path");
    return adminKeys().revoke(organizationId, keyId);
  });

  const adminKeys = () => {
    if (!deps.admin?.apiKeys) throw new Forbidden("not_supported", "this server does not manage API keys");
    return deps.admin.apiKeys;
  };

  const adminConnections = () => {
    if (!deps.admin?.connections) throw new Forbidden("not_supported", "this server does not manage connections");
    return deps.admin.connections;
  };
}

const SlackLinkRequest = z.object({ teamId: SlackTeamId, organizationId: Ids.OrganizationId });
const RotateKeys = z.object({ expectCurrent: z.string().min(1).max(32) });
const AdminOrgPath = z.object({ organizationId: Ids.OrganizationId });

function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}
