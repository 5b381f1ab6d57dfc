import type { FastifyInstance, FastifyRequest } from "fastify";
import {
  CreateWebhookRequest,
  UpdateWebhookRequest,
  type WebhookDeleted,
  type WebhookDelivery,
  type WebhookDeliveryList,
  type WebhookEndpoint,
  type WebhookList,
  type WebhookSecretRotated,
} from "@nubabel/contracts";
import type { WebhookEndpoints } from "../../webhooks/index.js";
import { authorizeApiKey } from "../auth.js";
import type { HttpDeps } from "../deps.js";
import { parse } from "../errors.js";
import { DeliveryPath, WebhookPath } from "../schemas.js";

/**
 * `/api/webhooks`: the organization's webhook endpoints and their delivery log, by its API key.
 * Another organization's endpoint or delivery is a 404 like a missing one.
 */
export function webhookRoutes(app: FastifyInstance, deps: HttpDeps, webhooks: WebhookEndpoints): void {
  const authorize = (request: FastifyRequest) => authorizeApiKey(deps, request);

  app.post("/api/webhooks", async (request, reply) => {
    const org = await authorize(request);
    const body = parse(CreateWebhookRequest, request.body);
    return reply.status(201).send(await webhooks.create(org.id, body));
  });

  app.get("/api/webhooks", async (request): Promise<WebhookList> => {
    const org = await authorize(request);
    return { webhooks: await webhooks.list(org.id) };
  });

  app.get("/api/webhooks/:webhookId", async (request): Promise<WebhookEndpoint> => {
    const org = await authorize(request);
    const { webhookId } = parse(WebhookPath, request.params, "path");
    return webhooks.get(org.id, webhookId);
  });

  app.patch("/api/webhooks/:webhookId", async (request): Promise<WebhookEndpoint> => {
    const org = await authorize(request);
    const { webhookId } = parse(WebhookPath, request.params, "path");
    const body = parse(UpdateWebhookRequest, request.body);
    return webhooks.update(org.id, webhookId, body);
  });

  app.delete("/api/webhooks/:webhookId", async (request): Promise<WebhookDeleted> => {
    const org = await authorize(request);
    const { webhookId } = parse(WebhookPath, request.params, "path");
    await webhooks.remove(org.id, webhookId);
    return { id: webhookId, deleted: true };
  });

  app.post("/api/webhooks/:webhookId/rotate-secret", async (request): Promise<WebhookSecretRotated> => {
    const org = await authorize(request);
    const { webhookId } = parse(WebhookPath, request.params, "path");
    return webhooks.rotateSecret(org.id, webhookId);
  });

  app.get("/api/webhooks/:webhookId/deliveries", async (request): Promise<WebhookDeliveryList> => {
    const org = await authorize(request);
    const { webhookId } = parse(WebhookPath, request.params, "path");
    return { deliveries: await webhooks.deliveries(org.id, webhookId) };
  });

  app.post("/api/webhooks/:webhookId/deliveries/:deliveryId/retry", async (request, reply): Promise<WebhookDelivery> => {
    const org = await authorize(request);
    const { webhookId, deliveryId } = parse(DeliveryPath, request.params, "path");
    const delivery = await webhooks.retry(org.id, webhookId, deliveryId);
    return reply.status(202).send(delivery);
  });
}
