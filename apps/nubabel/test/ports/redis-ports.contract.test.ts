import type { FastifyRequest } from "fastify";
import { Redis } from "ioredis";
import pino from "pino";
import { afterAll, describe, expect, it, vi } from "vitest";
import type { ProgressEvent, Webhooks } from "@nubabel/contracts";
import { MemoryMappingCache } from "../../src/adapters/memory/mapping-cache.js";
import { MemoryProgressLog } from "../../src/adapters/memory/progress-log.js";
import { MemoryRateLimiter } from "../../src/adapters/memory/rate-limiter.js";
import { RedisMappingCache } from "../../src/adapters/redis/mapping-cache.js";
import { connectRedis } from "../../src/adapters/redis/client.js";
import { RedisProgressLog } from "../../src/adapters/redis/progress-log.js";
import { RedisRateLimiter } from "../../src/adapters/redis/rate-limiter.js";
import { Webhooks as W } from "@nubabel/contracts";
import { enforce } from "../../src/http/limits.js";
import type { RateLimiter } from "../../src/limits/rate-limiter.js";
import type { MappingCache } from "../../src/mapping/ports.js";
import { compareIds, START, type Entry, type ProgressLog } from "../../src/progress/progress-log.js";
import { flushPrefix, freshPrefix, infra } from "../fixtures/backends.js";

/** Each port's promises, run against the in-process adapter and the Redis one. */
const prefix = freshPrefix();
const clients: Redis[] = [];
const redis = () => {
  const client = new Redis(infra.redisUrl!);
  clients.push(client);
  return client;
};
afterAll(async () => {
  if (infra.redisUrl) await flushPrefix(infra.redisUrl, prefix);
  for (const c of clients) c.disconnect();
});

type Factory<T> = [name: string, make: () => T];
const adapters = <T>(memory: () => T, onRedis: () => T): Array<Factory<T>> =>
  infra.redisUrl ? [["memory", memory], ["redis", onRedis]] : [["memory", memory]];

let n = 0;
const unique = (label: string) => `${label}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
const event = (message: string): ProgressEvent => ({ type: "status", data: { status: "busy", message }, timestamp: new Date().toISOString() });

describe.each(adapters<MappingCache>(() => new MemoryMappingCache(), () => new RedisMappingCache(redis(), prefix)))("MappingCache (%s)", (_name, make) => {
  it("finds a record both ways until it expires, and misses what it never saw", async () => {
    const cache = make();
    const record = { sessionId: unique("s"), opencodeSessionId: unique("oc"), organizationId: "org_a", sidecarUrl: "http://sidecar" };
    expect(await cache.bySession(record.organizationId, record.sessionId)).toBeUndefined();
    await cache.put(record, 60);
    expect(await cache.bySession(record.organizationId, record.sessionId)).toEqual(record);
    expect(await cache.byOpencode(record.opencodeSessionId)).toEqual(record);
    expect(await cache.bySession(record.organizationId, record.opencodeSessionId)).toBeUndefined();
    const brief = { ...record, sessionId: unique("s"), opencodeSessionId: unique("oc") };
    await cache.put(brief, 1);
    await vi.waitFor(async () => expect(await cache.bySession(brief.organizationId, brief.sessionId)).toBeUndefined(), { timeout: 5_000, interval: 100 });
  });
});

describe.each(adapters<ProgressLog>(() => new MemoryProgressLog(5), () => new RedisProgressLog(redis(), redis(), prefix, 5)))("ProgressLog (%s)", (_name, make) => {
  it("appends with increasing ids and reads strictly after an id", async () => {
    const log = make();
    const session = unique("p");
    expect(await log.lastId(session)).toBe(START);
    const ids: string[] = [];
    for (const m of ["a", "b", "c"]) ids.push(await log.append(session, event(m)));
    expect(compareIds(ids[0]!, ids[1]!)).toBeLessThan(0);
    expect(compareIds(ids[1]!, ids[2]!)).toBeLessThan(0);
    expect(await log.lastId(session)).toBe(ids[2]);
    const all = await log.readAfter(session, START);
    expect(all.map((e) => e.id)).toEqual(ids);
    expect(all.map((e) => (e.event.type === "status" ? e.event.data.message : ""))).toEqual(["a", "b", "c"]);
    expect((await log.readAfter(session, ids[0]!)).map((e) => e.id)).toEqual(ids.slice(1));
    expect(await log.readAfter(session, ids[2]!)).toEqual([]);
    expect((await log.readAfter(session, START, 2)).map((e) => e.id)).toEqual(ids.slice(0, 2));
    expect(await log.readAfter(unique("other"), START)).toEqual([]);
  });

  it("stores appends made without waiting in the order they were made, the first after a SCRIPT FLUSH too", async () => {
    const log = make();
    for (const flushFirst of [false, true]) {
      const session = unique("batch");
      // Redis forgot the script (a restart): every append of the batch falls back, still in order.
      if (flushFirst && infra.redisUrl) await redis().script("FLUSH");
      const messages = Array.from({ length: 20 }, (_, i) => String(i));
      const ids = await Promise.all(messages.map((m) => log.append(session, event(m))));
      // Trimmed to the newest (exactly in memory, roughly in Redis): what is kept is the batch's end, in order.
      const stored = await log.readAfter(session, START);
      expect(stored.length).toBeGreaterThanOrEqual(5);
      expect(stored.map((e) => e.id)).toEqual(ids.slice(-stored.length));
      expect(stored.map((e) => (e.event.type === "status" ? e.event.data.message : ""))).toEqual(messages.slice(-stored.length));
      expect([...ids].sort(compareIds)).toEqual(ids);
    }
  });

  it("trims old entries", async () => {
    const log = make();
    const session = unique("trim");
    for (let i = 0; i < 200; i++) await log.append(session, event(String(i)));
    const kept = await log.readAfter(session, START, 1_000);
    // Redis trims approximately (MAXLEN ~), by whole macro nodes: far fewer than appended is the promise.
    expect(kept.length).toBeLessThan(200);
    expect(kept.at(-1)!.event).toMatchObject({ data: { message: "199" } });
  });

  it("notifies subscribers of new entries until they unsubscribe", async () => {
    const log = make();
    const session = unique("sub");
    const seen: Entry[] = [];
    const unsubscribe = await log.subscribe(session, (e) => seen.push(e));
    const otherSeen: Entry[] = [];
    const unsubscribeOther = await log.subscribe(unique("elsewhere"), (e) => otherSeen.push(e));
    const id = await log.append(session, event("live"));
    await vi.waitFor(() => expect(seen.map((e) => e.id)).toEqual([id]));
    // Each notification names the entry before it: none for the log's first.
    expect(seen[0]).toMatchObject({ prev: START, event: { data: { message: "live" } } });
    await unsubscribe();
    await log.append(session, event("after"));
    const marker = await log.subscribe(session, () => undefined);
    await log.append(session, event("flush"));
    await marker();
    await unsubscribeOther();
    expect(seen.map((e) => e.id)).toEqual([id]);
    expect(otherSeen).toEqual([]);
    // Another subscriber hears each entry with the one before it.
    const next: Entry[] = [];
    const last = await log.lastId(session);
    const listen = await log.subscribe(session, (e) => next.push(e));
    const after = await log.append(session, event("next"));
    await vi.waitFor(() => expect(next).toMatchObject([{ id: after, prev: last }]));
    await listen();
  });
});

describe.skipIf(!infra.redisUrl)("RedisProgressLog, notifications", () => {
  it("reads an older version's notification (no prev) as a nudge, and ignores a malformed one", async () => {
    const log = new RedisProgressLog(redis(), redis(), prefix, 5);
    const session = unique("old");
    const seen: Entry[] = [];
    const unsubscribe = await log.subscribe(session, (e) => seen.push(e));
    const publisher = redis();
    await publisher.publish(`${prefix}progress:${session}`, "not json at all");
    await publisher.publish(`${prefix}progress:${session}`, `1-0 ${JSON.stringify(event("as before"))}`);
    await vi.waitFor(() => expect(seen).toEqual([{ id: "1-0", event: event("as before") }].map((e) => ({ ...e, event: { ...e.event, timestamp: expect.any(String) } }))));
    await unsubscribe();
  });
});

describe("MemoryProgressLog", () => {
  it("forgets the least recently appended session beyond its session cap", async () => {
    const log = new MemoryProgressLog(10, 2);
    await log.append("old", event("1"));
    await log.append("idle", event("2"));
    await log.append("old", event("3"));
    await log.append("new", event("4"));
    expect(await log.readAfter("idle", START)).toEqual([]);
    expect(await log.readAfter("old", START)).toHaveLength(2);
    expect(await log.readAfter("new", START)).toHaveLength(1);
  });
});

describe.each(adapters<RateLimiter>(() => new MemoryRateLimiter(), () => new RedisRateLimiter(redis(), prefix)))("RateLimiter (%s)", (_name, make) => {
  it("allows `limit` hits per key and window, then refuses with a retry delay", async () => {
    const limiter = make();
    const key = unique("rate");
    const verdicts = [];
    for (let i = 0; i < 5; i++) verdicts.push(await limiter.hit(key, 3, 60_000));
    expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false, false]);
    expect(verdicts[4]!.retryAfterMs).toBeGreaterThan(0);
    expect((await limiter.hit(unique("rate"), 3, 60_000)).allowed).toBe(true);
  });
});

describe.runIf(infra.redisUrl)("RateLimiter on Redis, on a client made as the services make theirs", () => {
  it("counts its first hit made in the same tick as other commands (auto-pipelined together) without crashing", async () => {
    const crashes: unknown[] = [];
    const onCrash = (err: unknown) => crashes.push(err);
    process.on("uncaughtException", onCrash);
    try {
      const client = connectRedis(infra.redisUrl!, pino({ level: "silent" }), "test");
      clients.push(client);
      await client.connect();
      const limiter = new RedisRateLimiter(client, prefix);
      // The GET opens this tick's pipeline; the first hit joins it.
      const [read, hit] = await Promise.allSettled([client.get(`${prefix}nothing`), limiter.hit(unique("rate"), 5, 60_000)]);
      expect(read.status).toBe("fulfilled");
      expect(hit).toEqual({ status: "fulfilled", value: { allowed: true, retryAfterMs: expect.any(Number) } });
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(crashes).toEqual([]);
    } finally {
      process.off("uncaughtException", onCrash);
    }
  });
});

describe("RateLimiter on Redis while Redis is away", () => {
  it("fails rather than waits, and the request is let through with a warning", async () => {
    // Nothing listens on port 1: the connection fails as one to a Redis that went away does.
    const client = connectRedis("redis://127.0.0.1:1", pino({ level: "silent" }), "test");
    clients.push(client);
    const limiter = new RedisRateLimiter(client, prefix);
    await expect(limiter.hit(unique("rate"), 1, 60_000)).rejects.toThrow();
    const warned: string[] = [];
    const request = { log: { warn: (_: unknown, message: string) => warned.push(message) } } as unknown as FastifyRequest;
    const checks = [{ key: unique("rate"), limit: 1, scope: "api key" }];
    await expect(enforce(limiter, request, checks)).resolves.toBeUndefined();
    await expect(enforce(limiter, request, checks)).resolves.toBeUndefined();
    expect(warned).toEqual(["rate limiter unavailable; allowing", "rate limiter unavailable; allowing"]);
    // The same checks on a working limiter: the second is refused, naming its allowance.
    const working = new MemoryRateLimiter();
    await enforce(working, request, checks);
    await expect(enforce(working, request, checks)).rejects.toMatchObject({ name: "RateLimited", data: { scope: "api key" } });
  });
});

describe.each(adapters<Webhooks.ReplayGuard>(() => new W.MemoryReplayGuard(), () => new W.RedisReplayGuard(redis(), prefix)))("ReplayGuard (%s)", (_name, make) => {
  it("claims an id once, even when raced", async () => {
    const guard = make();
    const id = unique("msg");
    const claims = await Promise.all(Array.from({ length: 10 }, () => guard.claim(id, 60)));
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await guard.claim(id, 60)).toBe(false);
    expect(await guard.claim(unique("msg"), 60)).toBe(true);
  });
});

describe.runIf(infra.redisUrl)("ReplayGuard on Redis after its memory is lost", () => {
  it("refuses what was signed before the loss was noticed, and accepts what is signed after", async () => {
    const client = redis();
    const own = freshPrefix();
    const guard = new W.RedisReplayGuard(client, own);
    await guard.start();
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const now = Math.floor(Date.now() / 1000);
    expect(await guard.claim(unique("msg"), 60, now)).toBe(true);
    await guard.start(); // a second instance starting does not move the epoch
    expect(await guard.claim(unique("msg"), 60, now)).toBe(true);
    // What FLUSHDB does to this prefix (the test shares its Redis, so only these keys go).
    await flushPrefix(infra.redisUrl!, own);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await guard.claim(unique("captured"), 60, now)).toBe(false);
    expect(await guard.claim(unique("fresh"), 60, Math.floor(Date.now() / 1000) + 1)).toBe(true);
    await flushPrefix(infra.redisUrl!, own);
  });

  it("runs its script by SHA, and sends it again when Redis forgot it (SCRIPT FLUSH, a restart)", async () => {
    const client = redis();
    const own = freshPrefix();
    const guard = new W.RedisReplayGuard(client, own);
    await guard.start();
    expect(await guard.claim(unique("a"), 60)).toBe(true);
    // Harmless to other files: their next script call falls back the same way.
    await client.script("FLUSH");
    const id = unique("b");
    expect(await guard.claim(id, 60)).toBe(true);
    expect(await guard.claim(id, 60)).toBe(false);
    await flushPrefix(infra.redisUrl!, own);
  });
});
