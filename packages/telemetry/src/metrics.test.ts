import Fastify from "fastify";
import { Counter } from "prom-client";
import { describe, expect, it } from "vitest";
import { boundedLabel, createRegistry, serveMetrics, statusClass, tokenMatches } from "./metrics.js";

const TOKEN = "a-metrics-token-of-32-characters";
const silent = { info: () => undefined };

describe("metrics", () => {
  it("accepts exactly the bearer token", () => {
    expect(tokenMatches(`Bearer ${TOKEN}`, TOKEN)).toBe(true);
    for (const header of [undefined, "", TOKEN, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, `Basic ${TOKEN}`]) {
      expect(tokenMatches(header, TOKEN)).toBe(false);
    }
  });

  it("serves the registry behind the token on the app, and is absent without one", async () => {
    const registry = createRegistry();
    new Counter({ name: "x_total", help: "x", registers: [registry] }).inc(3);
    const on = Fastify();
    await serveMetrics(on, { registry, token: TOKEN, host: undefined, port: undefined }, silent);
    const ok = await on.inject({ url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers["content-type"]).toContain("text/plain");
    expect(ok.body).toContain("x_total 3");
    const refused = await on.inject({ url: "/metrics" });
    expect(refused.statusCode).toBe(401);
    expect(refused.json()).toMatchObject({ error: { code: "unauthorized" } });

    const lines: string[] = [];
    const off = Fastify();
    await serveMetrics(off, { registry, token: undefined, host: undefined, port: undefined }, { info: (_o, msg) => void lines.push(msg) });
    expect((await off.inject({ url: "/metrics", headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(404);
    expect(lines[0]).toMatch(/^metrics off/);
  });

  it("keeps the first values of a label and folds the rest into other", () => {
    const label = boundedLabel(2);
    expect(["a", "b", "c", "a", "d"].map(label)).toEqual(["a", "b", "other", "a", "other"]);
    expect([200, 302, 404, 503].map(statusClass)).toEqual(["2xx", "3xx", "4xx", "5xx"]);
  });
});
