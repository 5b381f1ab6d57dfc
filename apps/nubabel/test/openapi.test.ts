import { Validator } from "@seriousme/openapi-schema-validator";
import { ErrorBody } from "@nubabel/contracts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import type { ZodOpenApiMediaTypeObject, ZodOpenApiOperationObject, ZodOpenApiPathsObject } from "zod-openapi";
import { paths, UNDOCUMENTED, webhooks } from "../src/http/openapi/index.js";
import { backendEnv } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { freePort } from "./fixtures/processes.js";

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

/** `GET /api/runs/:runId` → `get /api/runs/{runId}`, as the document spells it. */
function key(method: string, url: string): string {
  return `${method.toLowerCase()} ${url.replace(/:(\w+)/g, "{$1}")}`;
}

function operations(source: ZodOpenApiPathsObject): Array<{ key: string; path: string; method: string; op: ZodOpenApiOperationObject }> {
  return Object.entries(source).flatMap(([path, item]) =>
    METHODS.flatMap((method) => (item[method] ? [{ key: key(method, path), path, method, op: item[method] }] : [])),
  );
}

/**
 * Every example of the document's source with its zod schema, as often as the document will hold
 * it: inline at each use, but once for a response registered as a component (it has an `id`).
 */
function examples(): Array<{ where: string; schema: z.ZodType; example: unknown }> {
  const components = new Set<string>();
  const out: Array<{ where: string; schema: z.ZodType; example: unknown }> = [];
  const visit = (where: string, content: Record<string, ZodOpenApiMediaTypeObject | undefined> | undefined) => {
    for (const [type, media] of Object.entries(content ?? {})) {
      if (!media || media.example === undefined) continue;
      expect(media.schema && "_zod" in media.schema, `${where} ${type}: an example needs a zod schema`).toBe(true);
      out.push({ where: `${where} ${type}`, schema: media.schema as z.ZodType, example: media.example });
    }
  };
  // The webhooks Nubabel sends carry examples too.
  for (const { key: k, op } of [...operations(paths), ...operations(webhooks as ZodOpenApiPathsObject)]) {
    visit(`${k} request`, op.requestBody?.content);
    for (const [status, response] of Object.entries(op.responses)) {
      if (!response || typeof response !== "object" || !("description" in response)) continue;
      const id = (response as { id?: string }).id;
      if (id && components.has(id)) continue;
      if (id) components.add(id);
      visit(`${k} ${status}`, response.content as never);
    }
  }
  return out;
}

/** How many `example`s a JSON document holds, anywhere. */
function countExamples(value: unknown): number {
  if (!value || typeof value !== "object") return 0;
  let n = "example" in value ? 1 : 0;
  for (const [k, v] of Object.entries(value)) if (k !== "example") n += countExamples(v);
  return n;
}

describe("OpenAPI: /openapi.json and /docs", () => {
  const secrets = testSecrets();
  const registered: Array<{ method: string | string[]; url: string }> = [];
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let nubabel: TestNubabel;
  let doc: { openapi: string; paths: Record<string, Record<string, { security?: unknown[] }>> };

  beforeAll(async () => {
    // Embedded, and with Slack over HTTP (its API unreachable: the bot starts in the background), so
    // the admin routes and Slack's events route exist too: leaving them out is checked, not assumed.
    backend = await backendEnv("embedded");
    const slack = { SLACK_BOT_TOKEN: "xoxb-test", SLACK_SIGNING_SECRET: "signing", SLACK_API_URL: `http://127.0.0.1:${await freePort()}/api/` };
    nubabel = await startTestNubabel(
      { ...secrets, ...backend.env, ...slack, SIDECAR_URL: `http://127.0.0.1:${await freePort()}`, SIDECAR_HEALTH_TIMEOUT_MS: "500" },
      { onRoute: (route) => registered.push({ method: route.method, url: route.url }) },
    );
    const res = await nubabel.api("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    doc = (await res.json()) as typeof doc;
  });
  afterAll(async () => {
    await nubabel?.close();
    await backend?.cleanup();
  });

  it("is a valid OpenAPI 3.1 document, served without credentials", async () => {
    const validator = new Validator();
    const result = await validator.validate(doc as never);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(doc.openapi).toBe("3.1.0");
  });

  it("documents every route the server registered, except Slack's and the loopback admin ones, and no other", () => {
    const routes = registered.flatMap((r) => (Array.isArray(r.method) ? r.method : [r.method]).map((method) => ({ method, url: r.url })));
    // Fastify adds a HEAD beside every GET by itself; it answers like the GET.
    const served = routes.filter((r) => r.method !== "HEAD");
    expect(served.some((r) => r.url.startsWith("/admin/"))).toBe(true);
    expect(served.some((r) => r.url === "/slack/events")).toBe(true);
    const publicRoutes = served.filter((r) => !UNDOCUMENTED.some((pattern) => pattern.test(r.url))).map((r) => key(r.method, r.url));
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).filter((m) => METHODS.includes(m as never)).map((m) => key(m, path)));
    expect([...new Set(publicRoutes)].sort()).toEqual(documented.sort());
    for (const must of ["post /api/delegate", "get /api/sidecar/sessions/{sessionId}/stream", "post /api/sidecar/mcp/invoke", "get /livez", "get /readyz", "get /health"]) {
      expect(documented).toContain(must);
    }
  });

  it("has examples for the main routes, each valid against its zod schema, and none in the document unchecked", () => {
    const all = examples();
    for (const { where, schema, example } of all) {
      const parsed = schema.safeParse(example);
      expect(parsed.success, `${where}: ${parsed.error?.message}`).toBe(true);
    }
    const covered = new Set(all.map((e) => e.where.split(" ").slice(0, 2).join(" ")));
    for (const main of ["post /api/delegate", "get /api/runs/{runId}", "get /api/sessions/{sessionId}", "post /api/connections", "get /api/sidecar/sessions/{sessionId}/stream"]) {
      expect(covered).toContain(main);
    }
    expect(countExamples(doc)).toBe(all.length);
  });

  it("says what the server does without credentials: the documented 401 with an error body", async () => {
    for (const { path, method, op } of operations(paths)) {
      if (!op.security?.length) continue;
      const url = path.replace(/\{(\w+)\}/g, "x1");
      const res = await nubabel.api(url, { method: method.toUpperCase(), ...(method === "post" || method === "patch" ? { body: {} } : {}) });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(op.responses["401"], `${method} ${path} documents its 401`).toBeDefined();
      expect(ErrorBody.safeParse(await res.json()).success).toBe(true);
    }
  });

  it("serves /docs: one HTML page listing every route, without scripts or anything fetched elsewhere", async () => {
    const res = await nubabel.api("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m as never))) {
        expect(html).toContain(`<span class="m ${method}">${method}</span> <code>${path}</code>`);
      }
    }
    expect(html).toContain("sidecar callbacks");
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//i);
  });
});
