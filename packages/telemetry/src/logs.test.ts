import { describe, expect, it } from "vitest";
import { createLogger, redactUrl } from "./logs.js";

const capture = (service = "svc") => {
  const lines: string[] = [];
  const log = createLogger({ service, level: "info", destination: { write: (l: string) => void lines.push(l) } });
  return { log, lines };
};

describe("Logs.createLogger", () => {
  it("blanks secrets wherever they sit in a line", () => {
    const { log, lines } = capture();
    log.info(
      {
        headers: { authorization: "Bearer nbk_secret1" },
        apiKey: "nbk_secret2",
        body: { callbackToken: "cap1.secret3", credentials: { NOTION_TOKEN: "secret4" } },
        token: "cap1.secret5",
        upstream: { authorization: "Bearer secret6", password: "secret7", secret: "secret8" },
        err: { request: { authorization: "Bearer secret9", apiKey: "nbk_secret10" }, response: { token: "secret11" } },
      },
      "hello",
    );
    const out = lines.join("");
    expect(out).toContain("hello");
    expect(out).toContain('"[Redacted]"');
    for (const s of ["secret1", "secret2", "secret3", "secret4", "secret5", "secret6", "secret7", "secret8", "secret9", "secret10", "secret11"]) expect(out).not.toContain(s);
  });

  it("writes JSON lines with the service's name, and a request as its method and URL only", () => {
    const { log, lines } = capture("nubabel");
    log.info({ req: { method: "GET", url: "/s/stream?token=cap1.secret&lastEventId=0", headers: { cookie: "c" } } }, "incoming request");
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(line).sort()).toEqual(["level", "msg", "req", "service", "time"]);
    expect(line).toMatchObject({ level: 30, service: "nubabel", msg: "incoming request" });
    expect(line.req).toEqual({ method: "GET", url: "/s/stream?token=[Redacted]&lastEventId=0" });
  });

  it("removes stream tokens from URLs", () => {
    expect(redactUrl("/api/sidecar/sessions/s/stream?token=cap1.abc.def&lastEventId=0")).toBe(
      "/api/sidecar/sessions/s/stream?token=[Redacted]&lastEventId=0",
    );
    expect(redactUrl("/x?a=1&apiKey=nbk_1#f")).toBe("/x?a=1&apiKey=[Redacted]#f");
  });
});
