import { z } from "zod";
import { Ids, Name, Prompt, Text, UserId } from "@nubabel/contracts";

const { SessionId } = Ids;

/**
 * `POST /api/delegate` body. Kept here rather than in contracts because only Nubabel's HTTP
 * clients send it; move it when a second package needs it.
 */
export const ApiDelegateRequest = z.object({
  prompt: Prompt,
  sessionId: SessionId.optional(),
  category: Name.optional(),
  load_skills: z.array(Name).max(20).optional(),
  userId: UserId.optional(),
});
export type ApiDelegateRequest = z.infer<typeof ApiDelegateRequest>;

export const SessionPath = z.object({ sessionId: SessionId });
export const RunPath = z.object({ runId: Ids.RunId });

/** SSE query: `token` for browsers' EventSource, `lastEventId` because EventSource cannot set headers on its first connect. */
export const StreamQuery = z.object({
  token: z.string().min(1).max(4096).optional(),
  lastEventId: z.string().max(40).optional(),
});

export const CreateOrganization = z.object({ name: z.string().trim().pipe(Text.line(200)) });
