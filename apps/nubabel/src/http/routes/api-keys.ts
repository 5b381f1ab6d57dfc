import type { FastifyInstance, FastifyRequest } from "fastify";
import { type ApiKeyList, type ApiKeyRevoked, CreateApiKeyRequest } from "@nubabel/contracts";
import type { ApiKeys } from "../../organizations/index.js";
import { authorizeApiKey, bearer } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse } from "../errors.js";
import { ApiKeyPath } from "../schemas.js";

/**
 * `/api/keys`: the organization's own API keys, by any of them, so a key can be replaced without
 * an operator (make a new one, move to it, revoke the old). Another organization's key is a 404.
 */
export function apiKeyRoutes(app: FastifyInstance, deps: HttpDeps, keys: ApiKeys): void {
  const authorize = (request: FastifyRequest) => authorizeApiKey(deps, request);

  app.get("/api/keys", async (request): Promise<ApiKeyList> => {
    const org = await authorize(request);
    return { keys: await keys.list(org.id, bearer(request)) };
  });

  app.post("/api/keys", async (request, reply) => {
    const org = await authorize(request);
    const { name } = parse(CreateApiKeyRequest, request.body ?? {});
    return reply.status(201).send(await keys.create(org.id, name));
  });

  app.post("/api/keys/:keyId/revoke", async (request): Promise<ApiKeyRevoked> => {
    const org = await authorize(request);
    const { keyId } = parse(ApiKeyPath, request.params, "path");
    return keys.revoke(org.id, keyId);
  });
}
