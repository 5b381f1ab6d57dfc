import { describe, expect, it } from "vitest";
import { createLogger, redactUrl } from "./logger.js";

describe("logger redaction", () => {
  it("blanks secrets wherever they sit in a line", () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (l: string) => void lines.push(l) });
    log.info(
      {
        headers: { authorization: "Bearer nbk_secret1" },
        apiKey: "nbk_secret2",
        body: { callbackToken: "cap1.secret3", credentials: { NOTION_TOKEN: "secret4" } },
        token: "cap1.secret5",
      },
      "hello",
    );
    const out = lines.join("");
    expect(out).toContain("hello");
    for (const s of ["secret1", "secret2", "secret3", "secret4", "secret5"]) expect(out).not.toContain(s);
  });

  it("removes stream tokens from URLs", () => {
    expect(redactUrl("/api/sidecar/sessions/s/stream?token=cap1.abc.def&lastEventId=0")).toBe(
      "/api/sidecar/sessions/s/stream?token=[Redacted]&lastEventId=0",
    );
  });
});
