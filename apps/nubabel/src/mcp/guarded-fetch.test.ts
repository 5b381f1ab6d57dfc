import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { McpUrlRefusedError } from "./errors.js";
import { createGuardedFetch } from "./guarded-fetch.js";

let server: Server;
let port: number;
let hits = 0;

beforeAll(async () => {
  server = createServer((_req, res) => {
    hits++;
    res.end("reached");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function refusal(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return (e as Error).cause ?? e;
  }
  return undefined;
}

describe("createGuardedFetch", () => {
  it("refuses IP literals on loopback before sending anything", async () => {
    const guarded = createGuardedFetch();
    const cause = await refusal(guarded.fetch(`http://127.0.0.1:${port}/`));
    expect(cause).toBeInstanceOf(McpUrlRefusedError);
    expect(hits).toBe(0);
    await guarded.close();
  });

  it("refuses a name that rebinds to loopback after it passed the save-time check", async () => {
    const guarded = createGuardedFetch({
      // What a rebinding DNS server answers on the second query: the check at save time saw a public address.
      lookup: (_host, _opts, cb) => cb(null, [{ address: "127.0.0.1", family: 4 }]),
    });
    const cause = await refusal(guarded.fetch(`http://rebind.example.com:${port}/`));
    expect(cause).toBeInstanceOf(McpUrlRefusedError);
    expect((cause as McpUrlRefusedError).data).toMatchObject({ host: "rebind.example.com", address: "127.0.0.1" });
    expect(hits).toBe(0);
    await guarded.close();
  });
});
