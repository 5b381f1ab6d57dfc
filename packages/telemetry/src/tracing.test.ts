import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import * as Tracing from "./tracing.js";

const PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

describe("tracing", () => {
  let stop: Tracing.StopTracing = async () => undefined;
  afterEach(async () => stop());

  it("is off without an endpoint: no spans, no headers, no log fields", async () => {
    stop = Tracing.start({ serviceName: "test" });
    expect(Tracing.enabled()).toBe(false);
    await Tracing.inSpan("work", {}, async () => {
      expect(Tracing.headers()).toEqual({});
      expect(Tracing.logFields()).toEqual({});
    });
    expect(Tracing.traceparentOf(Tracing.extract({ traceparent: PARENT }))).toBeUndefined();
  });

  it("gives pino a fresh object per line (pino merges the line's fields into it)", () => {
    const first = Tracing.logFields();
    Object.assign(first, { database: "pglite" });
    expect(Tracing.logFields()).toEqual({});
  });

  it("on, continues a caller's traceparent and exports the spans at stop", async () => {
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => (bodies.push(body), res.end("{}")));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    stop = Tracing.start({ serviceName: "test-service", endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` });
    let sent: Record<string, string> = {};
    let fields = {};
    await Tracing.inSpan("child", { parent: Tracing.extract({ traceparent: PARENT }) }, async () => {
      sent = Tracing.headers();
      fields = Tracing.logFields();
    });
    expect(sent.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(fields).toMatchObject({ traceId: "0af7651916cd43dd8448eb211c80319c" });
    // The stored form of a context reads back as the same context.
    expect(Tracing.traceparentOf(Tracing.fromTraceparent(sent.traceparent))).toBe(sent.traceparent);
    await stop();
    server.close();
    const exported = bodies.join("");
    expect(exported).toContain('"test-service"');
    expect(exported).toContain('"child"');
    expect(exported).toContain('"parentSpanId":"b7ad6b7169203331"');
  });
});
