/**
 * Nubabel's share of `npm run bench` (wired from the root `bench/run.ts`): mapping lookups (Redis
 * hit, PostgreSQL fallback), `POST /api/delegate` beside calling the sidecar directly, and
 * progress-to-SSE latency across two instances. Needs DATABASE_URL and REDIS_URL; measures and
 * asserts nothing. Lives under test/ because it reuses the test fixtures (fake sidecar, backends).
 */
import { Redis } from "ioredis";
import pino from "pino";
import type { DelegateRequest, DelegateResponse } from "@nubabel/contracts";
import { openPostgres } from "../src/db/database.js";
import { PgMappingStore } from "../src/adapters/postgres/mapping-store.js";
import { RedisMappingCache } from "../src/adapters/redis/mapping-cache.js";
import { SessionMapping } from "../src/mapping/session-mapping.js";
import { backendEnv, hasInfra, infra } from "./fixtures/backends.js";
import { postSigned, startCallbackSink, startFakeSidecar } from "./fixtures/fake-sidecar.js";
import { startTestNubabel, testSecrets } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { openSse } from "./fixtures/sse-client.js";

export interface BenchRow {
  name: string;
  samples: number[];
  baseline?: string;
}

/** How long `fn` took, in ms. */
export const time = async (fn: () => Promise<unknown>): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

export async function benchNubabel(n: number): Promise<BenchRow[]> {
  if (!hasInfra) throw new Error("the Nubabel bench needs DATABASE_URL and REDIS_URL");
  const secrets = testSecrets();
  const backend = await backendEnv("shared");
  const sidecar = await startFakeSidecar({ secret: secrets.SIDECAR_SHARED_SECRET });
  const env = { ...backend.env, ...secrets, SIDECAR_URL: sidecar.url };
  const a = await startTestNubabel(env);
  const b = await startTestNubabel(env);
  const redis = new Redis(infra.redisUrl!);
  const database = await openPostgres(backend.env.DATABASE_URL!);
  const sink = await startCallbackSink();
  try {
    const { apiKey, organizationId: orgId } = await createOrganization(a, "Bench");
    const rows: BenchRow[] = [];

    // A real mapping to look up.
    const first = (await (await a.api("/api/delegate", { body: { prompt: "warm up" }, apiKey })).json()) as DelegateResponse;
    const sessionId = first.metadata.nubabelSessionId!;
    const prefix = backend.env.REDIS_KEY_PREFIX!;
    const mapping = new SessionMapping(new PgMappingStore(database.db), new RedisMappingCache(redis, prefix), pino({ level: "silent" }));
    const hit: number[] = [];
    const fallback: number[] = [];
    for (let i = 0; i < n; i++) {
      await mapping.bySession(orgId, sessionId);
      hit.push(await time(() => mapping.bySession(orgId, sessionId)));
      await redis.del(`${prefix}session:mapping:${orgId}:${sessionId}`);
      fallback.push(await time(() => mapping.bySession(orgId, sessionId)));
    }
    rows.push({ name: "mapping lookup, Redis hit", samples: hit });
    rows.push({ name: "mapping lookup, PostgreSQL fallback", samples: fallback, baseline: "mapping lookup, Redis hit" });

    // The fake sidecar answers at once and the direct call's result goes to the sink, so the
    // difference is Nubabel's own overhead.
    const sent = sidecar.received.find((r) => r.kind === "delegate")!;
    const body = sent.body as DelegateRequest;
    const sunk = { ...body.callbacks, runResult: `${sink.url}/result` };
    const direct: number[] = [];
    const viaNubabel: number[] = [];
    for (let i = 0; i < n; i++) {
      direct.push(
        await time(() =>
          postSigned(`${sidecar.url}/sessions/${sent.opencodeSessionId}/prompt`, { prompt: "direct", callbacks: sunk, callbackToken: body.callbackToken }, undefined, secrets.SIDECAR_SHARED_SECRET).then((r) => r.json()),
        ),
      );
      viaNubabel.push(await time(() => a.api("/api/delegate", { body: { prompt: "via nubabel", sessionId }, apiKey }).then((r) => r.json())));
    }
    rows.push({ name: "sidecar prompt, called directly (fake sidecar)", samples: direct });
    rows.push({ name: "POST /api/delegate follow-up", samples: viaNubabel, baseline: "sidecar prompt, called directly (fake sidecar)" });

    // Progress posted to B, read by an SSE client on A.
    const sse = await openSse(`${a.url}/api/sidecar/sessions/${sessionId}/stream`, { authorization: `Bearer ${apiKey}` });
    await sse.until((c) => c.events.length === 1);
    const progressUrl = `${b.url}/api/sidecar/sessions/${sessionId}/progress`;
    const latency: number[] = [];
    for (let i = 0; i < n; i++) {
      const before = sse.events.length;
      const t0 = performance.now();
      await postSigned(progressUrl, { progress: { type: "status", data: { status: "busy", message: String(i) }, timestamp: new Date().toISOString() } }, body.callbackToken, secrets.SIDECAR_SHARED_SECRET);
      await sse.until((c) => c.events.length > before);
      latency.push(performance.now() - t0);
    }
    sse.close();
    rows.push({ name: "progress POST on B → SSE client on A", samples: latency });
    return rows;
  } finally {
    redis.disconnect();
    await database.close();
    await a.close();
    await b.close();
    await sidecar.close();
    await sink.close();
    await backend.cleanup();
  }
}
