import { timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { Organizations } from "../../organizations/index.js";
import { bearer } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { Forbidden, parse, Unauthorized } from "../errors.js";
import { CreateOrganization } from "../schemas.js";

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
}

function isLoopback(address: string | undefined): boolean {
  return address === "127.0.0.1" || address === "::1" || address === "::ffff:127.0.0.1";
}
