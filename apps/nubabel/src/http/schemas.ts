import { z } from "zod";
import { Ids, Text } from "@nubabel/contracts";

const { SessionId } = Ids;

export const SessionPath = z.object({ sessionId: SessionId });
export const RunPath = z.object({ runId: Ids.RunId });

// Any one-line string: a malformed id is answered like a missing one (404), not as a 400 that
// confirms a format; only control characters, which no store keeps, are a 400.
export const ConnectionPath = z.object({ connectionId: Text.line(100) });

/** SSE query: `token` for browsers' EventSource, `lastEventId` because EventSource cannot set headers on its first connect. */
export const StreamQuery = z.object({
  token: z.string().min(1).max(4096).optional(),
  lastEventId: z.string().max(40).optional(),
});

export const CreateOrganization = z.object({ name: z.string().trim().pipe(Text.line(200)) });

// Like connections: a malformed id is a 404 like a missing one (another organization's is too).
export const WebhookPath = z.object({ webhookId: Text.line(100) });
export const DeliveryPath = WebhookPath.extend({ deliveryId: Text.line(100) });

// Like webhooks: a malformed key id is a 404 like a missing one (another organization's is too).
export const ApiKeyPath = z.object({ keyId: Text.line(100) });
