import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_POLICY, consoleRoutes } from "./console.js";

describe("the console's static files", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "console-dist-"));
  let app: FastifyInstance;
  let unbuilt: FastifyInstance;

  beforeAll(async () => {
    mkdirSync(path.join(dir, "assets"));
    writeFileSync(path.join(dir, "index.html"), '<!doctype html><script type="module" src="/console/assets/index-AbC123xy.js"></script>');
    writeFileSync(path.join(dir, "assets/index-AbC123xy.js"), "console.log('hi')");
    writeFileSync(path.join(dir, "assets/index-Zz9_8-7y.css"), "body{}");
    app = Fastify();
    consoleRoutes(app, { dir });
    unbuilt = Fastify();
    consoleRoutes(unbuilt, { dir: path.join(dir, "missing") });
  });
  afterAll(async () => {
    await app?.close();
    await unbuilt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const policy = (header: string | undefined) => Object.fromEntries((header ?? "").split(/;\s*/).map((d) => [d.split(" ")[0], d.split(" ").slice(1).join(" ")]));

  it("serves index.html to be revalidated on every visit, under a policy that allows no inline script", async () => {
    const res = await app.inject("/console/");
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(res.body).toContain("/console/assets/index-AbC123xy.js");
    const csp = policy(res.headers["content-security-policy"] as string);
    expect(csp).toMatchObject({
      "default-src": "'self'",
      "script-src": "'self'",
      "connect-src": "'self'",
      "object-src": "'none'",
      "frame-ancestors": "'none'",
    });
    expect(CONSOLE_POLICY).not.toMatch(/unsafe-inline|unsafe-eval|\*|https?:|data:/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
  });

  it("serves the hashed scripts and styles to be cached for a year, with the same policy", async () => {
    for (const [name, type] of [
      ["index-AbC123xy.js", "text/javascript; charset=utf-8"],
      ["index-Zz9_8-7y.css", "text/css; charset=utf-8"],
    ]) {
      const res = await app.inject(`/console/assets/${name}`);
      expect(res.statusCode, name).toBe(200);
      expect(res.headers["content-type"]).toBe(type);
      expect(res.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
      expect(res.headers["content-security-policy"]).toBe(CONSOLE_POLICY);
    }
  });

  it("redirects /console to /console/ and answers 404 for any other file, never reaching the disk by name", async () => {
    const bare = await app.inject("/console");
    expect(bare.statusCode).toBe(308);
    expect(bare.headers.location).toBe("/console/");
    for (const url of ["/console/assets/nope.js", "/console/assets/..%2Findex.html", "/console/assets/%2e%2e%2f%2e%2e%2fpackage.json", "/console/index.html"]) {
      expect((await app.inject(url)).statusCode, url).toBe(404);
    }
  });

  it("says how to build it when it has not been built, and is not cached meanwhile", async () => {
    const res = await unbuilt.inject("/console/");
    expect(res.statusCode).toBe(503);
    expect(res.headers["cache-control"]).toBe("no-store");
    expect(res.body).toContain("npm run build");
  });
});
