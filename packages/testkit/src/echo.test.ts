import { describe, expect, it } from "vitest";
import { echoReply } from "./echo.js";
import type { RecordedRequest } from "./types.js";

const request = (messages: unknown[]): RecordedRequest => ({ id: 1, body: {}, messages, tools: [], stream: true, model: "echo", auxiliary: false, receivedAt: 0 });
const textOf = (reply: ReturnType<typeof echoReply>) => ("text" in reply ? (reply.text ?? "") : "");

describe("echoReply", () => {
  it("quotes the latest user message and counts the conversation's user messages, in either content shape", () => {
    const reply = echoReply(
      request([
        { role: "system", content: "You are an agent" },
        { role: "user", content: "first   question\nsecond line" },
        { role: "assistant", content: "an answer" },
        { role: "user", content: [{ type: "text", text: "context" }, { type: "image_url", image_url: { url: "x" } }, { type: "text", text: "follow-up" }] },
      ]),
    );
    expect(textOf(reply)).toContain('You said "context follow-up".');
    expect(textOf(reply)).toContain('holds 2 messages from you; the first was "first question second line".');
  });

  it("bounds a long quote and says so for a single message", () => {
    const text = textOf(echoReply(request([{ role: "user", content: "x".repeat(5_000) }])));
    expect(text).toContain(`You said "${"x".repeat(199)}…".`);
    expect(text).toContain("holds 1 message from you.");
    expect(text.length).toBeLessThan(500);
  });
});
