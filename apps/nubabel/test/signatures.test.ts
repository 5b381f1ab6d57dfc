import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiRun, ApiRunAccepted } from "@nubabel/contracts";
import { backendEnv, flushPrefix, freshPrefix, hasInfra, infra } from "./fixtures/backends.js";
import { startTestNubabel, testSecrets, type TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { startRealSidecar, type RealSidecar } from "./fixtures/real-sidecar.js";

/**
 * docs/signatures.md on real parts: Nubabel and the real sidecar (OpenCode engine, scripted model),
 * both on PostgreSQL + Redis, with a recording proxy on each leg. Every message captured between
 * them, re-sent to any other route or in the other direction, is refused (401); re-sent to its own
 * route it is a replay (401), except a run's result, which is acknowledged and changes nothing.
 * The same holds after Redis is flushed, when the replay memory is gone and only the guard's epoch
 * stands between a captured message and its replay.
 *
 * Both services use their own Redis database index (REDIS_DB below) so the flush here never
 * touches the keys of the other test files running against the same server.
 */
const REDIS_DB = 9;

type Service = "sidecar" | "nubabel";

/** One request as it crossed a proxy: exactly what a man in the middle would keep. */
interface Captured {
  service: Service;
  method: string;
  /** The request line's path, as sent. */
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  status?: number;
}

interface Recorder {
  url: string;
  captured: Captured[];
  target: string;
  /** How long to hold a request's answer before passing it on (none by default). */
  hold?: (entry: Captured) => number;
  close(): Promise<void>;
}

/** Headers that belong to one connection, not to the message. */
const HOP = new Set(["host", "connection", "keep-alive", "content-length", "transfer-encoding", "upgrade", "proxy-connection"]);

function flatten(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) out[name] = Array.isArray(value) ? value.join(", ") : value;
  return out;
}

/** A plain HTTP request with the path exactly as given (no URL normalisation) and a body of our choice. */
function send(base: string, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }> {
  const url = new URL(base);
  const outgoing: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP.has(name)) outgoing[name] = value;
  if (body !== undefined) outgoing["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers: outgoing, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** An HTTP proxy that records each request (method, path, headers, raw body) and forwards it unchanged. */
async function startRecorder(service: Service): Promise<Recorder> {
  const captured: Captured[] = [];
  const recorder = { captured, target: "" } as Recorder;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry: Captured = { service, method: req.method!, path: req.url!, headers: flatten(req.headers), body: Buffer.concat(chunks) };
      // The sidecar's /health is its one public route (Nubabel's pool asks it every heartbeat): not a signed message.
      if (!(entry.method === "GET" && entry.path === "/health")) captured.push(entry);
      const body = entry.method === "GET" || entry.method === "HEAD" ? undefined : entry.body;
      send(recorder.target, entry.method, entry.path, entry.headers, body).then(
        async (answer) => {
          await sleep(recorder.hold?.(entry) ?? 0);
          entry.status = answer.status;
          const headers = flatten(answer.headers);
          for (const name of HOP) delete headers[name];
          res.writeHead(answer.status, headers);
          res.end(answer.body);
        },
        () => {
          entry.status = 502;
          res.writeHead(502).end();
        },
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  recorder.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  recorder.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return recorder;
}

/** A route a message can be sent to: its service, method and exact path. */
interface Target {
  service: Service;
  method: "GET" | "POST";
  path: string;
}

const label = (m: { service: Service; method: string; path: string }) => `${m.service} ${m.method} ${m.path}`;

/** The shape of a captured route, with its ids taken out (for "we captured one of each"). */
const routeName = (c: Captured) =>
  `${c.service} ${c.method} ${c.path
    .split("?")[0]!
    .replace(/^\/sessions\/[^/]+\//, "/sessions/:id/")
    .replace(/^\/runs\/(?!query$)[^/]+$/, "/runs/:id")
    .replace(/^\/api\/sidecar\/sessions\/[^/]+\//, "/api/sidecar/sessions/:id/")}`;

describe.runIf(hasInfra)("signatures between the services on real parts (PostgreSQL + Redis)", () => {
  const secrets = testSecrets();
  const redisUrl = (() => {
    const url = new URL(infra.redisUrl ?? "redis://127.0.0.1:6379");
    url.pathname = `/${REDIS_DB}`;
    return url.toString();
  })();
  const sidecarPrefix = freshPrefix();
  let backend: Awaited<ReturnType<typeof backendEnv>>;
  let real: RealSidecar;
  let nubabel: TestNubabel;
  let toSidecar: Recorder;
  let toNubabel: Recorder;
  let acme: { organizationId: string; apiKey: string };
  /** What the conversation produced, for the targets and for "nothing changed". */
  const seen = { sessions: ["sig-talk", "sig-abort", "sig-held"], opencodeSessions: [] as string[], runs: [] as string[] };

  beforeAll(async () => {
    backend = await backendEnv("shared");
    toSidecar = await startRecorder("sidecar");
    toNubabel = await startRecorder("nubabel");
    real = await startRealSidecar(secrets.SIDECAR_SHARED_SECRET, {
      NUBABEL_CALLBACK_URL: toNubabel.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: sidecarPrefix,
    });
    toSidecar.target = real.sidecar.url;
    nubabel = await startTestNubabel({
      ...backend.env,
      ...secrets,
      REDIS_URL: redisUrl,
      NUBABEL_PORT: "0",
      // Callbacks are built from the public URL: through the recorder.
      NUBABEL_URL: toNubabel.url,
      SIDECAR_URL: toSidecar.url,
      // The reconciler asks the sidecar about its running runs (POST /runs/query) soon.
      RUN_RECONCILE_INTERVAL_MS: "500",
      // A hand-over held past this is asked after by its run id (GET /runs/:id).
      SIDECAR_REQUEST_TIMEOUT_MS: "3000",
    });
    toNubabel.target = nubabel.url;
    acme = await createOrganization(nubabel, "Acme");
  });

  afterAll(async () => {
    await nubabel?.close();
    await real?.close();
    await toSidecar?.close();
    await toNubabel?.close();
    if (backend) {
      await flushPrefix(redisUrl, backend.env.REDIS_KEY_PREFIX!);
      await flushPrefix(redisUrl, sidecarPrefix);
      await backend.cleanup();
    }
  });

  const run = async (runId: string) => ApiRun.parse(await (await nubabel.api(`/api/runs/${runId}`, { apiKey: acme.apiKey })).json());

  /** Everything a replayed result could change: each session's history and its runs. */
  const snapshot = async () => {
    const out: Record<string, unknown> = {};
    for (const sessionId of seen.sessions) {
      const session = (await (await nubabel.api(`/api/sessions/${sessionId}`, { apiKey: acme.apiKey })).json()) as { messages: unknown[]; state: unknown };
      const runs = (await (await nubabel.api(`/api/sessions/${sessionId}/runs`, { apiKey: acme.apiKey })).json()) as { runs: unknown[] };
      out[sessionId] = { messages: session.messages, state: session.state, runs: runs.runs };
    }
    return out;
  };

  /** Every signed route of both services, with the ids this conversation made. */
  const targets = (): Target[] => [
    { service: "sidecar", method: "POST", path: "/delegate" },
    ...seen.opencodeSessions.flatMap((oc) => [
      { service: "sidecar" as const, method: "POST" as const, path: `/sessions/${oc}/prompt` },
      { service: "sidecar" as const, method: "POST" as const, path: `/sessions/${oc}/abort` },
    ]),
    ...seen.runs.map((id) => ({ service: "sidecar" as const, method: "GET" as const, path: `/runs/${id}` })),
    { service: "sidecar", method: "POST", path: "/runs/query" },
    ...seen.sessions.flatMap((sid) =>
      ["progress", "update", "result"].map((kind) => ({ service: "nubabel" as const, method: "POST" as const, path: `/api/sidecar/sessions/${sid}/${kind}` })),
    ),
    { service: "nubabel", method: "POST", path: "/api/sidecar/mcp/invoke" },
    { service: "nubabel", method: "POST", path: "/api/sidecar/mcp/list" },
  ];

  const isOwn = (m: Captured, t: Target) => m.service === t.service && m.method === t.method && m.path === t.path;
  const isResult = (m: Captured) => m.service === "nubabel" && /^\/api\/sidecar\/sessions\/[^/]+\/result$/.test(m.path);

  const resend = (m: Captured, t: Target) =>
    send(t.service === "sidecar" ? real.sidecar.url : nubabel.url, t.method, t.path, m.headers, t.method === "GET" ? undefined : m.body);

  const errorOf = (body: Buffer): { code: string; message: string } => {
    try {
      return (JSON.parse(body.toString("utf8")) as { error: { code: string; message: string } }).error;
    } catch {
      return { code: "", message: body.toString("utf8") };
    }
  };

  /**
   * Re-sends every captured message to every route; answers what broke the rules (empty: all held).
   * Another route: 401 whose message names the signature. Its own route: 401 as a replay ("signature
   * refused: replayed message …" on both sides), except a result: acknowledged with its run's state.
   */
  const replayAll = async (): Promise<string[]> => {
    const wrong: string[] = [];
    const all = [...toSidecar.captured, ...toNubabel.captured];
    for (const m of all) {
      await Promise.all(
        targets().map(async (t) => {
          const answer = await resend(m, t);
          const error = errorOf(answer.body);
          const what = `${label(m)} → ${label(t)}: ${answer.status} ${answer.body.toString("utf8").slice(0, 200)}`;
          if (isOwn(m, t) && isResult(m)) {
            const runId = (JSON.parse(m.body.toString("utf8")) as { runId: string }).runId;
            const expected = { success: true, status: (await run(runId)).status };
            if (answer.status !== 200 || JSON.stringify(JSON.parse(answer.body.toString("utf8"))) !== JSON.stringify(expected)) wrong.push(`result not acknowledged: ${what}`);
          } else if (answer.status !== 401) {
            wrong.push(`not refused: ${what}`);
          } else if (isOwn(m, t)) {
            if (!/^signature refused: replayed/.test(error.message)) wrong.push(`refused, but not as a replay: ${what}`);
          } else if (!/signature/.test(error.message)) {
            wrong.push(`refused, but the message does not name the signature: ${what}`);
          }
        }),
      );
    }
    return wrong;
  };

  it("captures real traffic both ways: delegate, follow-up, run lookup, abort, progress, MCP list and invoke, result", async () => {
    const { model } = real;
    // First turn: the agent lists Nubabel's tools, calls one (Acme has no connections), then answers.
    model.script(
      { toolCalls: [{ name: "nubabel_mcp_list", arguments: {} }] },
      { toolCalls: [{ name: "nubabel_mcp_invoke", arguments: { provider: "notion", toolName: "search" } }] },
      { text: "Nothing is connected." },
    );
    const first = await nubabel.api("/api/delegate", { body: { prompt: "what can you reach?", sessionId: "sig-talk" }, apiKey: acme.apiKey });
    expect(first.status).toBe(200);
    const firstBody = (await first.json()) as { status: string; output: string; metadata: { runId: string; opencodeSessionId: string } };
    expect(firstBody).toMatchObject({ status: "success", output: "Nothing is connected." });
    // The MCP callbacks below need the sidecar's plugin, which gives the agent Nubabel's tools.
    const offered = model.requests.find((r) => !r.auxiliary)?.tools.map((t: { function?: { name?: string } }) => t.function?.name);
    expect(offered, "tools the agent was offered (the sidecar's nubabel-bridge plugin must be loaded)").toEqual(expect.arrayContaining(["nubabel_mcp_list", "nubabel_mcp_invoke"]));

    // A follow-up in the same OpenCode session: POST /sessions/:id/prompt.
    model.script({ text: "Still nothing." });
    const second = await nubabel.api("/api/delegate", { body: { prompt: "and now?", sessionId: "sig-talk" }, apiKey: acme.apiKey });
    const secondBody = (await second.json()) as { status: string; output: string; metadata: { runId: string; opencodeSessionId: string } };
    expect(secondBody).toMatchObject({ status: "success", output: "Still nothing.", metadata: { opencodeSessionId: firstBody.metadata.opencodeSessionId } });

    // A slow turn: the reconciler looks it up (POST /runs/query), then it is aborted (POST /sessions/:id/abort).
    model.script({ text: "too late", delayMs: 8_000 });
    const accepted = await nubabel.api("/api/delegate", { body: { prompt: "take long", sessionId: "sig-abort" }, apiKey: acme.apiKey, headers: { prefer: "respond-async" } });
    expect(accepted.status).toBe(202);
    const slow = ApiRunAccepted.parse(await accepted.json());
    await vi.waitFor(() => expect(toSidecar.captured.some((c) => c.method === "POST" && c.path === "/runs/query" && c.body.toString("utf8").includes(slow.runId))).toBe(true), { timeout: 15_000, interval: 100 });
    expect((await nubabel.api(`/api/runs/${slow.runId}/abort`, { method: "POST", apiKey: acme.apiKey })).status).toBe(200);
    await vi.waitFor(async () => expect((await run(slow.runId)).status).toBe("aborted"), { timeout: 15_000, interval: 100 });
    const abortedSession = (await (await nubabel.api("/api/sessions/sig-abort", { apiKey: acme.apiKey })).json()) as { state: { opencodeSessionId: string } };
    expect(abortedSession.state.opencodeSessionId).toMatch(/^ses_/);
    expect(toSidecar.captured.some((c) => c.method === "POST" && c.path === `/sessions/${abortedSession.state.opencodeSessionId}/abort`)).toBe(true);

    // A hand-over whose answer comes too late, every try: Nubabel asks the sidecar for the run by
    // its id (GET /runs/:id), finds it accepted, and the turn's answer is the caller's.
    toSidecar.hold = (c) => (c.method === "POST" && c.path === "/delegate" && c.body.toString("utf8").includes('"sig-held"') ? 4_000 : 0);
    model.script({ text: "held, answered all the same" });
    const held = await nubabel.api("/api/delegate", { body: { prompt: "slow hand-over", sessionId: "sig-held" }, apiKey: acme.apiKey });
    const heldBody = (await held.json()) as { status: string; output: string; metadata: { runId: string } };
    expect(heldBody).toMatchObject({ status: "success", output: "held, answered all the same" });
    await vi.waitFor(() => expect(toSidecar.captured.some((c) => c.method === "GET" && c.path === `/runs/${heldBody.metadata.runId}`)).toBe(true), {
      timeout: 30_000,
      interval: 100,
    });
    toSidecar.hold = undefined;

    seen.runs.push(firstBody.metadata.runId, secondBody.metadata.runId, slow.runId, heldBody.metadata.runId);
    seen.opencodeSessions.push(firstBody.metadata.opencodeSessionId, abortedSession.state.opencodeSessionId);

    // Every run's result reached Nubabel through the recorder, and nothing is in flight any more.
    await vi.waitFor(
      () => {
        const results = toNubabel.captured.filter(isResult).map((c) => (JSON.parse(c.body.toString("utf8")) as { runId: string }).runId);
        expect(new Set(results)).toEqual(new Set(seen.runs));
        expect([...toSidecar.captured, ...toNubabel.captured].every((c) => c.status !== undefined)).toBe(true);
      },
      { timeout: 15_000, interval: 100 },
    );

    const routes = new Set([...toSidecar.captured, ...toNubabel.captured].map(routeName));
    for (const route of [
      "sidecar POST /delegate",
      "sidecar POST /sessions/:id/prompt",
      // The reconciler's.
      "sidecar POST /runs/query",
      // A hand-over that timed out.
      "sidecar GET /runs/:id",
      "sidecar POST /sessions/:id/abort",
      "nubabel POST /api/sidecar/sessions/:id/progress",
      // No `…/update`: with a runResult callback the sidecar sends no state updates (Nubabel keeps
      // its runs' state); the route is still a target of every replay below.
      "nubabel POST /api/sidecar/sessions/:id/result",
      "nubabel POST /api/sidecar/mcp/list",
      "nubabel POST /api/sidecar/mcp/invoke",
    ]) {
      expect(routes, route).toContain(route);
    }
    // Each one was accepted by its receiver the first time (a refused one would prove nothing).
    const refused = [...toSidecar.captured, ...toNubabel.captured].filter((c) => c.status === 401 || c.status === 502).map((c) => `${label(c)} ${c.status}`);
    expect(refused).toEqual([]);
    // Every message is signed for its route.
    for (const c of [...toSidecar.captured, ...toNubabel.captured]) expect(c.headers["webhook-signature"], label(c)).toMatch(/^v1,/);
  }, 90_000);

  it("every captured message, re-sent to any other route or the other way, is 401; to its own route a replay (401), a result acknowledged and nothing changes", async () => {
    expect(toSidecar.captured.length).toBeGreaterThan(0);
    const before = await snapshot();
    expect(await replayAll()).toEqual([]);
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it("the same after Redis is flushed: captured messages are refused on every route, their own included (a result is acknowledged, nothing changes)", async () => {
    const before = await snapshot();
    const redis = new Redis(redisUrl);
    try {
      // Only our own database index: other test files share this server.
      expect(await redis.exists(`${sidecarPrefix}replay:epoch`, `${backend.env.REDIS_KEY_PREFIX!}replay:epoch`)).toBe(2);
      await redis.flushdb();
      expect(await redis.dbsize()).toBe(0);
    } finally {
      redis.disconnect();
    }
    // Everything captured was signed before the new epoch, which the first claim sets (strictly later).
    await sleep(1_100);
    expect(await replayAll()).toEqual([]);
    expect(await snapshot()).toEqual(before);
    // Both guards noticed the flush on this database and set a new epoch.
    const after = new Redis(redisUrl);
    try {
      expect(await after.exists(`${sidecarPrefix}replay:epoch`, `${backend.env.REDIS_KEY_PREFIX!}replay:epoch`)).toBe(2);
    } finally {
      after.disconnect();
    }
  }, 60_000);
});
