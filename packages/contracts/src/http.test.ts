import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gzipSync } from "node:zlib";
import { AnswerTooLarge, fetchVia, send } from "./http.js";

describe("Http.send", () => {
  let server: http.Server;
  let base = "";
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/slow") return void setTimeout(() => res.end("late"), 2_000);
      if (req.url === "/redirect") return void res.writeHead(302, { location: "/echo" }).end();
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString())).on("end", () => res.end(`${req.method} ${body}`));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const opts = (extra: object = {}) => ({ method: "POST" as const, headers: { "content-type": "text/plain" }, body: "hi", signal: AbortSignal.timeout(5_000), ...extra });

  it("answers with the status and the whole text", async () => {
    expect(await send(`${base}/echo`, opts())).toEqual({ status: 200, text: "POST hi" });
  });

  it("refuses an answer longer than its bound", async () => {
    await expect(send(`${base}/echo`, opts({ maxBytes: 3 }))).rejects.toBeInstanceOf(AnswerTooLarge);
  });

  it("rejects with the signal's reason on a timeout, and with the network's error when nothing listens", async () => {
    await expect(send(`${base}/slow`, opts({ signal: AbortSignal.timeout(100) }))).rejects.toMatchObject({ name: "TimeoutError" });
    await expect(send("http://127.0.0.1:1/", opts())).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("does not follow a redirect", async () => {
    expect((await send(`${base}/redirect`, opts({ method: "GET", body: undefined }))).status).toBe(302);
  });
});

describe("Http.fetchVia", () => {
  let server: http.Server;
  let base = "";
  let release: () => void = () => undefined;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url === "/nothing") return void res.writeHead(204).end();
      if (req.url === "/zstd") return void res.writeHead(200, { "content-encoding": "zstd" }).end("?");
      if (req.url === "/broken-gzip") return void res.writeHead(200, { "content-encoding": "gzip" }).end("not gzip at all");
      if (req.url === "/gzip") return void res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip" }).end(gzipSync(JSON.stringify({ zipped: true })));
      if (req.url === "/events") {
        res.writeHead(200, { "content-type": "text/event-stream", "set-cookie": ["a=1", "b=2"] });
        res.write("data: first\n\n");
        release = () => res.end("data: second\n\n");
        return;
      }
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString())).on("end", () => {
        res.writeHead(201, { "content-type": "application/json" }).end(JSON.stringify({ method: req.method, body, asked: req.headers["x-asked"] }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("sends the method, headers and body, and answers as fetch would", async () => {
    const res = await fetchVia(new Request(`${base}/echo`, { method: "POST", body: "hello", headers: { "x-asked": "yes" } }));
    expect([res.status, res.statusText]).toEqual([201, "Created"]);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ method: "POST", body: "hello", asked: "yes" });
    expect(await (await fetchVia(new Request(`${base}/echo`))).json()).toMatchObject({ method: "GET", body: "" });
  });

  it("answers an empty status without a body, and decompresses a compressed answer", async () => {
    const empty = await fetchVia(new Request(`${base}/nothing`, { method: "DELETE" }));
    expect([empty.status, empty.body]).toEqual([204, null]);
    const zipped = await fetchVia(new Request(`${base}/gzip`));
    expect(zipped.headers.get("content-encoding")).toBeNull();
    expect(await zipped.json()).toEqual({ zipped: true });
    await expect(fetchVia(new Request(`${base}/zstd`))).rejects.toThrow(/does not decode: zstd/);
    await expect((await fetchVia(new Request(`${base}/broken-gzip`))).text()).rejects.toThrow();
  });

  it("streams: what was sent arrives before the answer ends, and an abort ends the stream", async () => {
    const abort = new AbortController();
    const res = await fetchVia(new Request(`${base}/events`, { signal: abort.signal }));
    expect(res.headers.get("set-cookie")).toBe("a=1, b=2");
    const reader = res.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: first\n\n");
    release();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe("data: second\n\n");
    expect((await reader.read()).done).toBe(true);
    const again = await fetchVia(new Request(`${base}/events`, { signal: abort.signal }));
    const stream = again.body!.getReader();
    await stream.read();
    abort.abort();
    await expect(stream.read()).rejects.toThrow();
    release();
  });

  it("rejects with the network's error when nothing listens", async () => {
    await expect(fetchVia(new Request("http://127.0.0.1:1/"))).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});
