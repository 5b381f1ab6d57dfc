import { describe, expect, it } from "vitest";
import { redactDeep, redactText, secretsOf } from "./redact.js";

describe("redaction", () => {
  const secrets = secretsOf({ Authorization: "Bearer ghp_abcdef123456", NOTION_TOKEN: "ntn_secret_value", FLAG: "on" });

  it("covers whole values and the token of a `Scheme token` value, not short values", () => {
    expect(secrets).toEqual(["Bearer ghp_abcdef123456", "ghp_abcdef123456", "ntn_secret_value"]);
  });

  it("blanks every occurrence in text", () => {
    expect(redactText("got Bearer ghp_abcdef123456, then ghp_abcdef123456 and ntn_secret_value", secrets)).toBe(
      "got [redacted], then [redacted] and [redacted]",
    );
  });

  it("walks results without touching their shape", () => {
    const result = { content: [{ type: "text", text: '{"NOTION_TOKEN":"ntn_secret_value"}' }], structuredContent: { n: 1, s: ["ghp_abcdef123456"] } };
    expect(redactDeep(result, secrets)).toEqual({
      content: [{ type: "text", text: '{"NOTION_TOKEN":"[redacted]"}' }],
      structuredContent: { n: 1, s: ["[redacted]"] },
    });
    expect(result.content[0]!.text).toContain("ntn_secret_value");
  });
});
