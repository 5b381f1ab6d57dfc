import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AnswerTooLarge, send } from "./http.js";

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
