import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { CreateConnectionRequest, Text, UpdateConnectionRequest, type ConnectionDeleted, type ConnectionList } from "@nubabel/contracts";
import type { Connections } from "../../mcp/connections.js";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse } from "../errors.js";

// Any one-line string: a malformed id is answered like a missing one (404), not as a 400 that
// confirms a format; only control characters, which no store keeps, are a 400.
const ConnectionPath = z.object({ connectionId: Text.line(100) });

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

  app.get("/api/connections/:connectionId", async (request) => {
    const org = await authorize(request);
    const { connectionId } = parse(ConnectionPath, request.params, "path");
    return connections.get(org.id, connectionId);
  });

  app.get("/api/connections/:connectionId/tools", async (request) => {
    const org = await authorize(request);
    const { connectionId } = parse(ConnectionPath, request.params, "path");
    return connections.tools(org.id, connectionId);
  });

  app.patch("/api/connections/:connectionId", async (request) => {
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
