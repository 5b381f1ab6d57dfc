import { describe, expect, it } from "vitest";
import { DelegateRequest, MAX_HISTORY_MESSAGES } from "@nubabel/contracts";
import type { Message } from "../sessions/sessions.js";
import { latest } from "./dispatch.js";

const message = (role: Message["role"], content: string, i = 0): Message => ({ id: `msg_${i}`, role, content, metadata: {}, createdAt: new Date(0) });

describe("the history a moved session carries", () => {
  it("is what the sidecar's contract accepts: terminal escapes removed, long answers cut to their end, empty ones left out", () => {
    const history = latest([
      message("user", "run ls"),
      message("assistant", "\u001b[31mred\u001b[0m\tdone\r\n"),
      message("assistant", "   "),
      message("user", "x".repeat(150_000) + "END"),
    ]);
    expect(history.map((m) => m.role)).toEqual(["user", "assistant", "user"]);
    expect(history[0]!.content).toBe("run ls");
    expect(history[1]!.content).toBe("[31mred[0m\tdone\r\n");
    expect(history[2]!.content).toHaveLength(100_000);
    expect(history[2]!.content.endsWith("xEND")).toBe(true);
    const body = { prompt: "p", session_id: "s1", organizationId: "org_a", history };
    expect(DelegateRequest.safeParse(body).success).toBe(true);
  });

  it("keeps the latest messages within the message count and the request's byte budget", () => {
    const many = Array.from({ length: 500 }, (_, i) => message(i % 2 ? "assistant" : "user", `m${i}`, i));
    const counted = latest(many);
    expect(counted).toHaveLength(MAX_HISTORY_MESSAGES);
    expect(counted.at(-1)!.content).toBe("m499");
    // Ten answers of 100 000 three-byte characters: only the last one fits 400 kB as sent.
    const wide = Array.from({ length: 10 }, (_, i) => message("assistant", `${i}` + "€".repeat(99_999), i));
    const fitted = latest(wide);
    expect(fitted.map((m) => m.content[0])).toEqual(["9"]);
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThan(400_100);
  });
});
