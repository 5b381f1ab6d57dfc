import { ApiKeyCreated, ApiKeyList, ApiKeyRevoked, type ApiKeyView, CreateApiKeyRequest, ErrorBody, KEPT_REVOKED_API_KEYS, MAX_API_KEYS } from "@nubabel/contracts";
import type { ZodOpenApiPathsObject } from "zod-openapi";
import { ApiKeyPath } from "../schemas.js";
import { answer, Auth, body, errors, notFound } from "./responses.js";

const KEY_ID = "key_9f3a61c2d8e4b507";
const key: ApiKeyView = { id: KEY_ID, prefix: "nbk_Q3vTz1", name: "ci", createdAt: "2026-11-29T09:00:00.000Z" };
const keyNotFound = notFound("api_key_not_found", `API key ${KEY_ID} not found`);

/** `/api/keys`: the organization's own API keys. */
export const apiKeyPaths: ZodOpenApiPathsObject = {
  "/api/keys": {
    get: {
      tags: ["keys"],
      operationId: "listApiKeys",
      summary: "The organization's API keys (never the keys themselves)",
      description: `Oldest first, revoked ones included (with \`revokedAt\`; the latest ${KEPT_REVOKED_API_KEYS} revoked are kept); \`current\` marks the key of this request.`,
      security: Auth.apiKey,
      responses: {
        200: answer("Every key.", ApiKeyList, { keys: [{ ...key, current: true }, { id: "key_0b7e22f4a9c13d68", prefix: "nbk_k0Wd8s", createdAt: "2026-10-01T08:00:00.000Z", revokedAt: "2026-11-29T09:05:00.000Z", current: false }] }),
        ...errors([401, 429, 503]),
      },
    },
    post: {
      tags: ["keys"],
      operationId: "createApiKey",
      summary: "Make another API key (shown this once)",
      description: `The new key works at once, like the others, for the same organization. To replace a key: make one, move your callers to it, revoke the old one. At most ${MAX_API_KEYS} unrevoked keys at once (\`too_many_api_keys\`). The body may be empty.`,
      security: Auth.apiKey,
      requestBody: { ...body(CreateApiKeyRequest, { name: "ci" }), required: false },
      responses: {
        201: answer("The key, with `apiKey`: store it now, it is never shown again.", ApiKeyCreated, { ...key, apiKey: "nbk_Q3vTz1bC8w0pYkR4mN7sD2fG5hJ9lX6aE1qU3iO8tVy" }),
        409: answer(`The organization holds ${MAX_API_KEYS} unrevoked keys (\`too_many_api_keys\`).`, ErrorBody, {
          error: { code: "too_many_api_keys", message: `an organization may hold ${MAX_API_KEYS} unrevoked API keys; revoke one first`, details: { limit: MAX_API_KEYS } },
        }),
        ...errors([400, 401, 429, 503]),
      },
    },
  },
  "/api/keys/{keyId}/revoke": {
    post: {
      tags: ["keys"],
      operationId: "revokeApiKey",
      summary: "Revoke a key: every instance refuses it at once",
      description:
        "Any of the organization's keys may revoke any other, or itself. The organization's last working key cannot be revoked (`last_api_key`): make another first. Revoking a revoked key answers as the first time did. A progress stream opened with the key, or with a stream token made with it, ends at its next heartbeat, and such a token opens no new stream (401).",
      security: Auth.apiKey,
      requestParams: { path: ApiKeyPath },
      responses: {
        200: answer("Revoked.", ApiKeyRevoked, { id: KEY_ID, revokedAt: "2026-11-29T09:05:00.000Z" }),
        409: answer("It is the organization's last working key (`last_api_key`).", ErrorBody, {
          error: { code: "last_api_key", message: `${KEY_ID} is the organization's last working API key; make another one first, then revoke this one`, details: { keyId: KEY_ID } },
        }),
        ...errors([400, 401, 429, 503], keyNotFound),
      },
    },
  },
};
