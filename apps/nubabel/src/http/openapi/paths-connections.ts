import {
  Connection,
  ConnectionDeleted,
  ConnectionList,
  ConnectionTools,
  CreateConnectionRequest,
  ErrorBody,
  UpdateConnectionRequest,
} from "@nubabel/contracts";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import { ConnectionPath } from "../schemas.js";
import * as Example from "./examples.js";
import { answer, Auth, body, errors, notFound } from "./responses.js";

const connectionNotFound = notFound("connection_not_found", `connection ${Example.CONNECTION_ID} not found`);
const nameTaken = {
  409: answer("The organization already has a connection of this name (`connection_name_taken`).", ErrorBody, {
    error: { code: "connection_name_taken", message: 'a connection named "notion" already exists' },
  }),
};

/** `/api/connections`: the organization's MCP connections. Credentials go in and never come back out. */
export const connectionPaths: ZodOpenApiPathsObject = {
  "/api/connections": {
    post: {
      tags: ["connections"],
      operationId: "createConnection",
      summary: "Connect an MCP server (a catalog provider, or `custom` with an HTTPS URL)",
      description:
        "`credentials` are stored encrypted and passed to the server as environment variables (stdio) or headers (HTTP); responses list their names only. A `custom` transport must be HTTPS to a public address.",
      security: Auth.apiKey,
      requestBody: body(CreateConnectionRequest, { provider: "notion", credentials: { NOTION_TOKEN: "ntn_4b2c8d1e6f0a9b3c7d5e" } }),
      responses: { 201: answer("The connection.", Connection, Example.connection), ...errors([400, 401, 429, 503], nameTaken) },
    },
    get: {
      tags: ["connections"],
      operationId: "listConnections",
      summary: "The organization's MCP connections",
      security: Auth.apiKey,
      responses: { 200: answer("Every connection, enabled or not.", ConnectionList, { connections: [Example.connection] }), ...errors([401, 429, 503]) },
    },
  },
  "/api/connections/{connectionId}": {
    get: {
      tags: ["connections"],
      operationId: "getConnection",
      summary: "One MCP connection",
      security: Auth.apiKey,
      requestParams: { path: ConnectionPath },
      responses: { 200: answer("The connection.", Connection, Example.connection), ...errors([400, 401, 429, 503], connectionNotFound) },
    },
    patch: {
      tags: ["connections"],
      operationId: "updateConnection",
      summary: "Rename, enable or disable a connection, or replace its credentials",
      description: "`credentials`, when given, replace the stored ones whole.",
      security: Auth.apiKey,
      requestParams: { path: ConnectionPath },
      requestBody: body(UpdateConnectionRequest, { enabled: false }),
      responses: {
        200: answer("The connection as it is now.", Connection, { ...Example.connection, enabled: false, updatedAt: "2026-11-29T10:02:00.000Z" }),
        ...errors([400, 401, 429, 503], { ...connectionNotFound, ...nameTaken }),
      },
    },
    delete: {
      tags: ["connections"],
      operationId: "deleteConnection",
      summary: "Remove a connection and its credentials",
      security: Auth.apiKey,
      requestParams: { path: ConnectionPath },
      responses: { 200: answer("Removed.", ConnectionDeleted, { id: Example.CONNECTION_ID, deleted: true }), ...errors([400, 401, 429, 503], connectionNotFound) },
    },
  },
  "/api/connections/{connectionId}/tools": {
    get: {
      tags: ["connections"],
      operationId: "listConnectionTools",
      summary: "Ask the server for its tools now (a connection test), enabled or not",
      security: Auth.apiKey,
      requestParams: { path: ConnectionPath },
      responses: {
        200: answer("The tools the server offers.", ConnectionTools, {
          id: Example.CONNECTION_ID,
          tools: [{ name: "API-post-search", description: "Search pages and databases by title" }],
        }),
        ...errors([400, 401, 429, 503], {
          ...connectionNotFound,
          502: answer("The MCP server could not be reached or refused (`mcp_unavailable`).", ErrorBody, {
            error: { code: "mcp_unavailable", message: "notion: connection refused" },
          }),
          504: answer("The MCP server did not answer in time (`mcp_timeout`).", ErrorBody, { error: { code: "mcp_timeout", message: "notion: no answer within 30000 ms" } }),
        }),
      },
    },
  },
};
