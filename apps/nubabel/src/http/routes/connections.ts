import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  CreateConnectionRequest,
  UpdateConnectionRequest,
  type Connection,
  type ConnectionDeleted,
  type ConnectionList,
  type ConnectionTools,
} from "@nubabel/contracts";
import type { Connections } from "../../mcp/connections.js";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse } from "../errors.js";
import { ConnectionPath } from "../schemas.js";

/**
 * `/api/connections`: the organization's MCP connections, by its API key. The organization is the
 * key's; an id of another organization's connection is a 404 like a missing one.
 */
export function connectionRoutes(app: FastifyInstance, deps: HttpDeps, connections: Connections): void {
  const authorize = (request: FastifyRequest) => authorizeApiKey(deps, request);

  app.post("/api/connections", async (request, reply) => {
    const org = await authorize(request);
    const body = parse(CreateConnectionRequest, request.body);
    return reply.status(201).send(await connections.create(org.id, body));
  });

  app.get("/api/connections", async (request): Promise<ConnectionList> => {
    const org = await authorize(request);
    return { connections: await connections.list(org.id) };
  });

  app.get("/api/connections/:connectionId", async (request): Promise<Connection> => {
    const org = await authorize(request);
    const { connectionId } = parse(ConnectionPath, request.params, "path");
    return connections.get(org.id, connectionId);
  });

  app.get("/api/connections/:connectionId/tools", async (request): Promise<ConnectionTools> => {
    const org = await authorize(request);
    const { connectionId } = parse(ConnectionPath, request.params, "path");
    return connections.tools(org.id, connectionId);
  });

  app.patch("/api/connections/:connectionId", async (request): Promise<Connection> => {
    const org = await authorize(request);
    const { connectionId } = parse(ConnectionPath, request.params, "path");
    const body = parse(UpdateConnectionRequest, request.body);
    return connections.update(org.id, connectionId, body);
  });

  app.delete("/api/connections/:connectionId", async (request): Promise<ConnectionDeleted> => {
    const org = await authorize(request);
    const { connectionId } = parse(ConnectionPath, request.params, "path");
    await connections.remove(org.id, connectionId);
    return { id: connectionId, deleted: true };
  });
}
