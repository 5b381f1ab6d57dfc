import type { DeliveryStatus, WebhookEventType } from "@nubabel/contracts";

/** An endpoint as stored; its secrets sealed with the keyring. */
export interface StoredEndpoint {
  id: string;
  organizationId: string;
  url: string;
  events: WebhookEventType[];
  enabled: boolean;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  disabledReason: string | null;
  disabledAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface StoredDelivery {
  id: string;
  endpointId: string;
  runId: string;
  type: WebhookEventType;
  status: DeliveryStatus;
  attempts: number;
  lastStatusCode: number | null;
  lastResponse: string | null;
  lastError: string | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date;
  createdAt: Date;
  deliveredAt: Date | null;
}

/** A delivery claimed for one attempt, with what sending it needs. `attempts` counts this one. */
export interface ClaimedDelivery {
  id: string;
  payload: string;
  attempts: number;
  endpoint: Pick<StoredEndpoint, "id" | "url" | "secret" | "previousSecret" | "previousSecretExpiresAt">;
}

/** How an attempt went: a 2xx, or anything else (with the answer when one came). */
export type AttemptResult =
  | { ok: true; statusCode: number; excerpt: string }
  | { ok: false; statusCode?: number; excerpt?: string; error: string };

/** One event to record for every endpoint of an organization that listens to its type. */
export interface NewEvent {
  organizationId: string;
  runId: string;
  type: WebhookEventType;
  /** Tells apart two events of one type for one run (an approval's id); "" for run events. */
  eventKey: string;
  payload: string;
}

/**
 * Endpoints and deliveries in PostgreSQL (or PGlite). The deliveries table is both the outbox and
 * the log: a delivery is inserted before any attempt and settled in place. `claim` hands a due
 * delivery to one sender at a time across instances (row locks skipped, then a lease), and never a
 * delivery while an earlier one of its run to its endpoint is pending, which keeps a run's events in
 * order. Every read and change of an organization's rows is scoped by its id.
 */
export interface WebhookStore {
  create(row: Pick<StoredEndpoint, "id" | "organizationId" | "url" | "events" | "enabled" | "secret">): Promise<StoredEndpoint>;
  list(organizationId: string): Promise<StoredEndpoint[]>;
  get(organizationId: string, id: string): Promise<StoredEndpoint | undefined>;
  /** Enabling clears a reason Nubabel gave for disabling it, and its run of failures. */
  update(organizationId: string, id: string, patch: Partial<Pick<StoredEndpoint, "url" | "events" | "enabled">>): Promise<StoredEndpoint | undefined>;
  remove(organizationId: string, id: string): Promise<boolean>;
  /**
   * Every endpoint's sealed secrets, for `keys rotate`: the current one (id `<endpointId>/current`)
   * and the previous one while it has one (`<endpointId>/previous`).
   */
  listSealedSecrets(): AsyncIterable<{ id: string; organizationId: string; sealed: string }>;
  /** Writes `next` where that secret still is `previous`; false when it changed meanwhile. */
  replaceSealedSecret(id: string, previous: string, next: string): Promise<boolean>;
  /** The current secret becomes the previous one (until `previousUntil`), `secret` the current one. */
  rotate(organizationId: string, id: string, secret: string, previousUntil: Date): Promise<StoredEndpoint | undefined>;
  /** The event types the organization's enabled endpoints listen to (spares building a payload nobody gets). */
  listened(organizationId: string): Promise<WebhookEventType[]>;
  /** Inserts one delivery per enabled endpoint listening to the type (once per event); returns how many. */
  enqueue(event: NewEvent, retryForMs: number): Promise<number>;
  /**
   * Runs that ended after `since` whose ending no delivery records though an enabled endpoint of
   * their organization listens to it: an instance stopped between ending the run and recording.
   */
  missedEndings(since: Date, limit: number): Promise<Array<{ organizationId: string; runId: string }>>;
  /** Claims up to `limit` due deliveries for `leaseMs`, counting the attempt. */
  claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /**
   * Settles an attempt. A failure is tried again in `retryInMs` unless that is past the delivery's
   * retry window (then `failed`); an endpoint failing since longer than `disableAfterMs` is
   * disabled with the reason. A success clears the endpoint's run of failures.
   */
  settle(id: string, result: AttemptResult, retry: { retryInMs: number; disableAfterMs: number }): Promise<{ status: DeliveryStatus; endpointDisabled: boolean }>;
  deliveries(organizationId: string, endpointId: string, limit: number): Promise<StoredDelivery[]>;
  /** Makes a delivery due now, pending again with a fresh retry window; undefined when none such. */
  retry(organizationId: string, endpointId: string, deliveryId: string, retryForMs: number): Promise<StoredDelivery | undefined>;
}
