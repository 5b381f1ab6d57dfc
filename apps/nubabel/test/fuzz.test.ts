import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DelegateRequest, Webhooks } from "@nubabel/contracts";
import { backendEnv } from "./fixtures/backends.js";
import { startFakeSidecar, type FakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";

/**
 * Malformed requests over every public, callback and sidecar route (issue 9, acceptance 5): no
 * answer is a 5xx, every refusal names the field, and nothing is half-stored. Seeded, so a failure
 * replays exactly.
 */

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(0x9e3779b9);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
/** A C0 control character that is no whitespace (refused in every text field). */
const control = () => String.fromCharCode(pick([0, 1, 2, 7, 8, 11, 12, 14, 27, 31, 127]));

const DEEP = "__DEEP__";
const deep = (n: number) => "[".repeat(n) + "]".repeat(n);

/** Values no field of any payload accepts: NUL and control characters, wrong types, oversizes, depth. */
function hostileValues(): unknown[] {
  return [
    "a\u0000b",
    `x${control()}y`,
    `${control()}`,
    "x".repeat(100_001),
    42,
    true,
    null,
    [1, { a: "\u0000" }],
    Array.from({ length: 5_000 }, () => "a"),
    DEEP,
  ];
}

/** Path ids that are no id: `.`/`..`, encoded NUL and control characters, separators, bad escapes. */
const BAD_IDS = [
  ".",
  "..",
  "%2E",
  "%2e%2E",
  "a%00b",
  "%00",
  "a%01b",
  "a%1Bb",
  "a%7Fb",
  "a%2Fb",
  "a%3Fb",
  "a%23b",
  "a%5Cb",
  "a%20b",
  "%25",
  "ses_%00",
  "run_%00",
  "conn_%0A",
  "%C0%AE%C0%AE",
  "x".repeat(300),
];

/** A copy of `base` with the value at `path` replaced. */
function mutate(base: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let at: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[path.at(-1)!] = value;
  return copy;
}

/** The body as sent: a `DEEP` value becomes 100 000 levels of nesting. */
function serialize(body: unknown): string {
  return JSON.stringify(body).replace(JSON.stringify(DEEP), deep(100_000));
}

/** Every variant of `base` with one field made hostile, plus raw bodies that are no JSON at all. */
function bodies(base: Record<string, unknown>, fields: string[][], idFields: string[][] = []): string[] {
  const out: string[] = [];
  for (const field of fields) for (const value of hostileValues()) out.push(serialize(mutate(base, field, value)));
  for (const field of idFields) for (const value of [".", "..", "a/b", "a?b", "a#b", "a%2Fb"]) out.push(serialize(mutate(base, field, value)));
  out.push(deep(100_000), `{"a":${deep(70)}}`, "{not json", "[]", '"\u0000"', "null");
  return out;
}

interface Answer {
  status: number;
  body: { error?: { code?: string; details?: { fields?: string[]; field?: string } & Record<string, unknown> } } | undefined;
}

/** A raw HTTP request: the path is sent as written (`..` and `%00` included), not normalised. */
function send(base: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method, path, headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          let parsed: Answer["body"];
          try {
            parsed = text ? (JSON.parse(text) as Answer["body"]) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A 4xx that names what was wrong: `details.fields`, `details.field`, or (a 404) the id's name. */
function namesField(answer: Answer): boolean {
  const details = answer.body?.error?.details;
  if (!details) return false;
  if (Array.isArray(details.fields) && details.fields.length > 0) return true;
  if (typeof details.field === "string" && details.field) return true;
  return answer.status === 404 && Object.keys(details).length > 0;
}

/** Checks every answer and returns how many requests were sent. */
async function fuzz(cases: Array<() => Promise<Answer>>, label: string, refused: "4xx" | "no5xx" = "4xx"): Promise<number> {
  const failures: string[] = [];
  for (const [i, run] of cases.entries()) {
    const answer = await run();
    const where = `${label} #${i}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`;
    if (answer.status >= 500) failures.push(where);
    else if (answer.status >= 400 && !namesField(answer)) failures.push(`no field named: ${where}`);
    else if (refused === "4xx" && answer.status < 400) failures.push(`accepted: ${where}`);
  }
  expect(failures).toEqual([]);
  return cases.length;
}

describe("fuzz: malformed requests to Nubabel never reach a 5xx (fake sidecar)", () => {
  const secrets = testSecrets();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let sidecar: FakeSidecar;
  let nubabel: TestNubabel;
  let acme: { organizationId: string; apiKey: string };
  let sent = 0;

  beforeAll(async () => {
    backend = await backendEnv("shared");
    sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
    nubabel = await startTestNubabel({
      ...backend.env,
      ...secrets,
      SIDECAR_URL: sidecar.url,
      API_RATE_LIMIT_PER_KEY: "100000",
      CALLBACK_RATE_LIMIT_PER_ORG: "100000",
      CALLBACK_RATE_LIMIT_PER_SESSION: "100000",
    });
    acme = await createOrganization(nubabel, "Acme");
  });
  afterAll(async () => {
    await nubabel?.close();
    await sidecar?.close();
    await backend?.cleanup();
    expect(sent).toBeGreaterThanOrEqual(400);
  });

  const api = (method: string, path: string, body?: string) => () => send(nubabel.url, method, path, { authorization: `Bearer ${acme.apiKey}` }, body);

  it("refuses bad public requests with a 400 naming the field, and stores nothing", async () => {
    const session = "fuzz-public";
    expect((await nubabel.api("/api/delegate", { body: { prompt: "first", sessionId: session }, apiKey: acme.apiKey })).status).toBe(200);
    const before = { history: await (await nubabel.api(`/api/sessions/${session}`, { apiKey: acme.apiKey })).json(), runs: await (await nubabel.api(`/api/sessions/${session}/runs`, { apiKey: acme.apiKey })).json() };
    const received = sidecar.received.length;

    const delegate = { prompt: "fine", sessionId: session, category: "quick", load_skills: ["a"], userId: "u1" };
    const cases = bodies(delegate, [["prompt"], ["sessionId"], ["category"], ["load_skills"], ["userId"]], [["sessionId"]]).map((b) => api("POST", "/api/delegate", b));
    for (const id of BAD_IDS) {
      cases.push(
        api("GET", `/api/runs/${id}`),
        api("POST", `/api/runs/${id}/abort`),
        api("GET", `/api/sessions/${id}`),
        api("GET", `/api/sessions/${id}/runs`),
        api("POST", `/api/sessions/${id}/abort`),
        api("POST", `/api/sessions/${id}/stream-token`),
        api("GET", `/api/sidecar/sessions/${id}/stream`),
      );
    }
    for (const last of ["%00", "1-%01", "..", "x".repeat(41)]) cases.push(api("GET", `/api/sidecar/sessions/${session}/stream?lastEventId=${last}`));
    sent += await fuzz(cases, "public");

    expect(sidecar.received.length).toBe(received);
    expect(await (await nubabel.api(`/api/sessions/${session}`, { apiKey: acme.apiKey })).json()).toEqual(before.history);
    expect(await (await nubabel.api(`/api/sessions/${session}/runs`, { apiKey: acme.apiKey })).json()).toEqual(before.runs);
  });

  it("refuses bad connection requests, and creates none", async () => {
    const create = { provider: "custom", name: "fz", credentials: { TOKEN: "t" }, enabled: true, transport: { type: "http", url: "https://example.com/mcp" } };
    const cases = bodies(create, [["provider"], ["name"], ["credentials"], ["enabled"], ["transport"], ["transport", "type"], ["transport", "url"]]).map((b) => api("POST", "/api/connections", b));
    cases.push(...bodies({ name: "fz", enabled: false }, [["name"], ["enabled"], ["credentials"]]).map((b) => api("PATCH", "/api/connections/conn_unknown1", b)));
    for (const id of BAD_IDS) {
      cases.push(
        api("GET", `/api/connections/${id}`),
        api("GET", `/api/connections/${id}/tools`),
        api("DELETE", `/api/connections/${id}`),
        api("PATCH", `/api/connections/${id}`, JSON.stringify({ name: "x" })),
      );
    }
    sent += await fuzz(cases, "connections");
    // `a%00b` in particular: refused as a 400 naming the id, not a 500 from PostgreSQL.
    const nul = await api("DELETE", "/api/connections/a%00b")();
    expect(nul).toMatchObject({ status: 400, body: { error: { details: { fields: ["connectionId"] } } } });
    expect(await (await nubabel.api("/api/connections", { apiKey: acme.apiKey })).json()).toEqual({ connections: [] });
  });

  it("refuses bad signed callbacks with a 4xx naming the field, and applies none", async () => {
    const session = "fuzz-callbacks";
    expect((await nubabel.api("/api/delegate", { body: { prompt: "first", sessionId: session }, apiKey: acme.apiKey })).status).toBe(200);
    const delegated = sidecar.received.findLast((r) => r.kind === "delegate" && (r.body as DelegateRequest).session_id === session)!;
    const { callbackToken: token, callbacks } = delegated.body as DelegateRequest;
    const oc = delegated.opencodeSessionId;
    const before = { history: await (await nubabel.api(`/api/sessions/${session}`, { apiKey: acme.apiKey })).json(), runs: await (await nubabel.api(`/api/sessions/${session}/runs`, { apiKey: acme.apiKey })).json() };

    const signedPost = (path: string, raw: string) => () =>
      send(nubabel.url, "POST", path, { authorization: `Bearer ${token!}`, ...Webhooks.sign(secrets.SIDECAR_SHARED_SECRET, { direction: "sidecar-to-nubabel", method: "POST", path }, raw) }, raw);
    const path = (url: string) => new URL(url).pathname;
    const now = new Date().toISOString();
    const cases = [
      ...bodies({ state: { opencodeSessionId: oc, status: "running" }, metadata: {} }, [["state"], ["state", "opencodeSessionId"], ["state", "status"], ["metadata"]], [["state", "opencodeSessionId"]]).map((b) =>
        signedPost(path(callbacks!.sessionUpdate), b),
      ),
      ...bodies({ progress: { type: "tool_started", data: { tool: "bash", callId: "c1", input: {} }, timestamp: now, seq: 1, runId: "run_fuzz" } }, [
        ["progress"],
        ["progress", "type"],
        ["progress", "data"],
        ["progress", "data", "tool"],
        ["progress", "data", "input"],
        ["progress", "timestamp"],
        ["progress", "seq"],
        ["progress", "runId"],
      ]).map((b) => signedPost(path(callbacks!.progress), b)),
      ...bodies({ runId: "run_fuzzunknown", opencodeSessionId: oc, status: "completed", output: "x", durationMs: 1, finishedAt: now }, [["runId"], ["opencodeSessionId"], ["status"], ["output"], ["durationMs"], ["finishedAt"], ["error"]]).map((b) =>
        signedPost(path(callbacks!.runResult!), b),
      ),
      ...bodies({ provider: "none", toolName: "t", args: {} }, [["provider"], ["toolName"], ["args"], ["organizationId"]]).map((b) => signedPost(path(callbacks!.mcpInvoke), b)),
      ...bodies({ provider: "none", tool: "t" }, [["provider"], ["tool"], ["organizationId"]]).map((b) => signedPost(path(callbacks!.mcpList!), b)),
    ];
    for (const id of BAD_IDS) {
      for (const route of ["update", "progress", "result"]) cases.push(signedPost(`/api/sidecar/sessions/${id}/${route}`, "{}"));
    }
    sent += await fuzz(cases, "callbacks", "no5xx");

    expect(await (await nubabel.api(`/api/sessions/${session}`, { apiKey: acme.apiKey })).json()).toEqual(before.history);
    expect(await (await nubabel.api(`/api/sessions/${session}/runs`, { apiKey: acme.apiKey })).json()).toEqual(before.runs);
    // The deep event that overflowed the stack is a 400 now, not a 503 the sidecar retries.
    const deepEvent = serialize({ progress: { type: "tool_started", data: { tool: "bash", callId: "c1", input: DEEP }, timestamp: now } });
    expect(await signedPost(path(callbacks!.progress), deepEvent)()).toMatchObject({ status: 400, body: { error: { details: { fields: ["body"] } } } });
  });

  it("keys the API rate limit on the key, however the header spells it", async () => {
    const limited = await startTestNubabel({ ...backend.env, ...secrets, SIDECAR_URL: sidecar.url, API_RATE_LIMIT_PER_KEY: "5" });
    try {
      const { apiKey } = await createOrganization(limited, "Limited");
      const spellings = ["Bearer", "bearer", "BEARER", "Bearer ", "bEaReR  "].map((s) => `${s} ${apiKey}`);
      const statuses: number[] = [];
      for (const authorization of [...spellings, `BeArEr     ${apiKey}  `]) {
        statuses.push((await send(limited.url, "GET", "/api/sessions/fuzz-limit", { authorization })).status);
      }
      // Five answers (the session is unknown: 404), then the one key's allowance is spent.
      expect(statuses).toEqual([404, 404, 404, 404, 404, 429]);
    } finally {
      await limited.close();
    }
  });
});

describe("fuzz: malformed signed requests to the real sidecar never reach a 5xx", () => {
  const secret = Webhooks.generateSecret();
  let real: RealSidecar;

  beforeAll(async () => {
    real = await startRealSidecar(secret);
  });
  afterAll(async () => {
    await real?.close();
  });

  it("refuses bad bodies and ids with a 400 naming the field; unknown well-formed ids are 404; nothing runs", async () => {
    const signed = (method: "GET" | "POST", path: string, raw = "") => () =>
      send(real.sidecar.url, method, path, Webhooks.sign(secret, { direction: "nubabel-to-sidecar", method, path }, raw), method === "POST" ? raw : undefined);
    const delegate = { prompt: "fine", session_id: "fuzz-sidecar", organizationId: "org_fuzz", category: "quick", load_skills: ["a"], userId: "u1", callbackToken: "t", runId: "run_fuzz1", timeoutMs: 60_000 };
    const prompt = { prompt: "fine", session_id: "fuzz-sidecar", organizationId: "org_fuzz", userId: "u1", timeoutMs: 60_000 };
    const cases = [
      ...bodies(delegate, [["prompt"], ["session_id"], ["organizationId"], ["category"], ["load_skills"], ["userId"], ["callbacks"], ["callbackToken"], ["runId"], ["timeoutMs"]], [["session_id"]]).map((b) =>
        signed("POST", "/delegate", b),
      ),
      ...bodies(prompt, [["prompt"], ["session_id"], ["organizationId"], ["userId"], ["timeoutMs"]], [["session_id"]]).map((b) => signed("POST", "/sessions/ses_fuzzunknown1/prompt", b)),
    ];
    for (const id of BAD_IDS) {
      cases.push(
        signed("POST", `/sessions/${id}/prompt`, JSON.stringify(prompt)),
        signed("POST", `/sessions/${id}/abort`, "{}"),
        signed("GET", `/runs/${id}`),
      );
    }
    for (const id of ["fuzz", "oc_123", "SES_abc", "ses-abc"]) cases.push(signed("POST", `/sessions/${id}/abort`, "{}"), signed("POST", `/sessions/${id}/prompt`, JSON.stringify(prompt)));
    expect(await fuzz(cases, "sidecar")).toBeGreaterThanOrEqual(150);

    // Well-formed but unknown: 404, never a 500 from the engine.
    expect((await signed("POST", "/sessions/ses_fuzzunknown2/abort", "{}")()).status).toBe(404);
    expect((await signed("POST", "/sessions/ses_fuzzunknown3/prompt", JSON.stringify(prompt))()).status).toBe(404);
    expect((await signed("GET", "/runs/run_fuzzunknown")()).status).toBe(404);
    expect(real.model.requests).toHaveLength(0);
  });
});
