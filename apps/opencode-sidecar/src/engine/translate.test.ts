import type { Event } from "@opencode-ai/sdk/v2";
import { describe, expect, it } from "vitest";
import { toEngineEvent } from "./translate.js";

const updated = (info: Record<string, unknown>) => ({ type: "message.updated", properties: { info } }) as unknown as Event;

describe("toEngineEvent, message.updated", () => {
  it("gives a user message's id and when the engine stored it", () => {
    expect(toEngineEvent(updated({ id: "msg_u", sessionID: "ses_1", role: "user", time: { created: 1_000 } }), "/w")).toEqual({
      type: "message",
      sessionId: "ses_1",
      messageId: "msg_u",
      role: "user",
      createdAt: 1_000,
    });
  });

  it("gives an assistant message's step: the prompt it answers, usage, model, and whether it is complete", () => {
    const info = {
      id: "msg_a",
      sessionID: "ses_1",
      role: "assistant",
      parentID: "msg_u",
      providerID: "acme",
      modelID: "m-1",
      tokens: { input: 10, output: 2, reasoning: 1, cache: { read: 3, write: 0 } },
      cost: 0.5,
      time: { created: 1_001 },
    };
    expect(toEngineEvent(updated(info), "/w")).toEqual({
      type: "message",
      sessionId: "ses_1",
      messageId: "msg_a",
      role: "assistant",
      step: { parentId: "msg_u", model: "acme/m-1", createdAt: 1_001, completed: false, tokens: info.tokens, cost: 0.5 },
    });
    const failed = { ...info, time: { created: 1_001, completed: 1_005 }, error: { name: "APIError", data: { message: "quota" } } };
    expect(toEngineEvent(updated(failed), "/w")).toMatchObject({ error: { code: "APIError", message: "quota" }, step: { completed: true } });
  });
});
