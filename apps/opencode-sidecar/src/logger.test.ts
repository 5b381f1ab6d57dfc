import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

describe("sidecar logger", () => {
  // Its own redaction list once missed these: each leaked into the sidecar's logs.
  it("redacts an authorization header, an apiKey, credentials and a ?token= in a URL", () => {
    const lines: string[] = [];
    const log = createLogger("info", { write: (l: string) => void lines.push(l) });
    log.info(
      {
        upstream: { authorization: "Bearer secret1" },
        apiKey: "secret2",
        credentials: { NOTION_TOKEN: "secret3" },
        req: { method: "GET", url: "/sessions/s/stream?token=secret4&lastEventId=0" },
      },
      "hello",
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ service: "opencode-sidecar", msg: "hello", apiKey: "[Redacted]", credentials: "[Redacted]" });
    expect(line.req).toEqual({ method: "GET", url: "/sessions/s/stream?token=[Redacted]&lastEventId=0" });
    for (const s of ["secret1", "secret2", "secret3", "secret4"]) expect(lines[0]).not.toContain(s);
  });
});
