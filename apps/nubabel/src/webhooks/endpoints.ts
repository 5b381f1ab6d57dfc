import {
  Ids,
  Webhooks,
  WebhookEventType,
  type CreateWebhookRequest,
  type UpdateWebhookRequest,
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEndpointCreated,
  type WebhookSecretRotated,
} from "@nubabel/contracts";
import { checkUrl, type Resolve } from "@nubabel/net-policy";
import type { AuditLog } from "../audit/index.js";
import { Cipher, type Keyring, type Rotation } from "../crypto/index.js";
import { WebhookDeliveryNotFound, WebhookNotFound, WebhookUrlRefused } from "./errors.js";
import type { StoredEndpoint, WebhookStore } from "./ports.js";
import { toApiDelivery, toApiEndpoint } from "./view.js";

/** How long the secret a rotation replaces still signs (the 24 h overlap). */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

// Versioned so the binding can change later without silently opening old rows under new rules.
const aadFor = (endpointId: string) => `nubabel/webhook-secret/v1/${endpointId}`;

/** Seals a signing secret for its endpoint's row (it must be read back in the clear to sign). */
export function sealSecret(keyring: Keyring.Keyring, endpointId: string, secret: string): string {
  return Cipher.encrypt(keyring, secret, aadFor(endpointId));
}

export function openSecret(keyring: Keyring.Keyring, endpointId: string, sealed: string): string {
  return Cipher.decrypt(keyring, sealed, aadFor(endpointId));
}

/** The endpoints' sealed secrets as `keys rotate` re-encrypts them (beside connections' credentials). */
export function sealedSecretRows(store: Pick<WebhookStore, "listSealedSecrets" | "replaceSealedSecret">): Rotation.SealedCredentialRows {
  return {
    noun: "webhook secret",
    aadOf: (id) => aadFor(id.split("/")[0] ?? ""),
    listSealed: () => store.listSealedSecrets(),
    replace: (id, previous, next) => store.replaceSealedSecret(id, previous, next),
  };
}

export interface WebhookEndpointsDeps {
  store: WebhookStore;
  keyring: Keyring.Keyring;
  /** The operator's `NUBABEL_WEBHOOKS_ALLOW_PRIVATE_URLS`. */
  allowPrivateUrls: boolean;
  /** How long a delivery retried by hand is tried again. */
  retryForMs: number;
  resolve?: Resolve;
  /** A delivery retried by hand is sent now, not at the next poll. */
  wake?: () => void;
  /** Told after the organization's endpoints were created, changed or removed (the outbox reads them again). */
  changed?: (organizationId: string) => void;
  /** Where each change is recorded (`webhook` entries, actor `api`: only an API key manages endpoints). */
  audit?: Pick<AuditLog, "record">;
}

/**
 * An organization's webhook endpoints, managed with its API key. URLs follow the policy custom MCP
 * servers have (`@nubabel/net-policy`): checked here when saved and again at every delivery. Each
 * change leaves a `webhook` entry in the audit trail, naming the endpoint by id and its URL by host.
 */
export class WebhookEndpoints {
  constructor(private readonly deps: WebhookEndpointsDeps) {}

  async create(organizationId: string, input: CreateWebhookRequest): Promise<WebhookEndpointCreated> {
    const url = await this.checked(input.url);
    const id = Ids.create(Ids.Prefix.webhook);
    const secret = Webhooks.generateSecret();
    const stored = await this.deps.store.create({
      id,
      organizationId,
      url,
      events: input.events ? unique(input.events) : [...WebhookEventType.options],
      enabled: input.enabled ?? true,
      secret: sealSecret(this.deps.keyring, id, secret),
    });
    this.deps.changed?.(organizationId);
    await this.audit(organizationId, "create", `${id} to ${hostOf(stored.url)}, events ${stored.events.join(", ")}${stored.enabled ? "" : ", disabled"}`);
    return { ...toApiEndpoint(stored), secret };
  }

  async list(organizationId: string): Promise<WebhookEndpoint[]> {
    return (await this.deps.store.list(organizationId)).map((e) => toApiEndpoint(e));
  }

  async get(organizationId: string, id: string): Promise<WebhookEndpoint> {
    const found = await this.deps.store.get(organizationId, id);
    if (!found) throw new WebhookNotFound(id);
    return toApiEndpoint(found);
  }

  async update(organizationId: string, id: string, input: UpdateWebhookRequest): Promise<WebhookEndpoint> {
    const url = input.url === undefined ? undefined : await this.checked(input.url);
    const updated = await this.deps.store.update(organizationId, id, {
      ...(url ? { url } : {}),
      ...(input.events ? { events: unique(input.events) } : {}),
      ...(input.enabled !== undefined ? { enabled: input.enabled } : {}),
    });
    if (!updated) throw new WebhookNotFound(id);
    this.deps.changed?.(organizationId);
    if (input.enabled) this.deps.wake?.();
    await this.audit(organizationId, "update", `${id}: ${changes(input, updated)}`);
    return toApiEndpoint(updated);
  }

  async remove(organizationId: string, id: string): Promise<void> {
    if (!(await this.deps.store.remove(organizationId, id))) throw new WebhookNotFound(id);
    this.deps.changed?.(organizationId);
    await this.audit(organizationId, "delete", id);
  }

  async rotateSecret(organizationId: string, id: string): Promise<WebhookSecretRotated> {
    const secret = Webhooks.generateSecret();
    const until = new Date(Date.now() + ROTATION_OVERLAP_MS);
    const rotated = await this.deps.store.rotate(organizationId, id, sealSecret(this.deps.keyring, id, secret), until);
    if (!rotated) throw new WebhookNotFound(id);
    await this.audit(organizationId, "rotate", `${id}: new signing secret; the previous one signs until ${until.toISOString()}`);
    return { id, secret, previousSecretExpiresAt: until.toISOString() };
  }

  async deliveries(organizationId: string, id: string, limit = 100): Promise<WebhookDelivery[]> {
    await this.get(organizationId, id);
    return (await this.deps.store.deliveries(organizationId, id, limit)).map(toApiDelivery);
  }

  async retry(organizationId: string, id: string, deliveryId: string): Promise<WebhookDelivery> {
    await this.get(organizationId, id);
    const retried = await this.deps.store.retry(organizationId, id, deliveryId, this.deps.retryForMs);
    if (!retried) throw new WebhookDeliveryNotFound(deliveryId);
    this.deps.wake?.();
    return toApiDelivery(retried);
  }

  private async audit(organizationId: string, action: "create" | "update" | "delete" | "rotate", detail: string): Promise<void> {
    await this.deps.audit?.record({ organizationId, kind: "webhook", actor: "api", action, status: "ok", detail });
  }

  private async checked(url: string): Promise<string> {
    const check = await checkUrl(url, { allowPrivate: this.deps.allowPrivateUrls, resolve: this.deps.resolve });
    if (!check.ok) throw new WebhookUrlRefused(check.reason);
    return check.url.toString();
  }
}

const unique = <T>(values: T[]): T[] => [...new Set(values)];

/**
 * A URL's host only, for the audit: the path, query or user info of a webhook URL is often its
 * credential (Slack's and many others' incoming-webhook URLs carry a token there).
 */
const hostOf = (url: string): string => new URL(url).host;

/** What a PATCH set, in words for the audit. */
function changes(input: UpdateWebhookRequest, updated: StoredEndpoint): string {
  const said: string[] = [];
  if (input.url !== undefined) said.push(`url to ${hostOf(updated.url)}`);
  if (input.events) said.push(`events ${updated.events.join(", ")}`);
  if (input.enabled !== undefined) said.push(input.enabled ? "enabled" : "disabled");
  return said.join(", ") || "unchanged";
}
