import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { MemoryMappingCache } from "../adapters/memory/mapping-cache.js";
import type { MappingCache, MappingRecord, MappingStore } from "./ports.js";
import { SessionMapping } from "./session-mapping.js";

const record: MappingRecord = { sessionId: "s1", opencodeSessionId: "oc1", organizationId: "org_a", sidecarUrl: "http://sc" };

class ListStore implements MappingStore {
  rows: MappingRecord[] = [];
  reads = 0;
  failWrites = false;
  async insert(r: MappingRecord) {
    if (this.failWrites) throw new Error("database down");
    const existing = this.rows.find((x) => x.sessionId === r.sessionId);
    if (existing) return existing;
    this.rows.push(r);
    return r;
  }
  async bySession(organizationId: string, id: string) {
    this.reads++;
    return this.rows.find((x) => x.organizationId === organizationId && x.sessionId === id);
  }
  async byOpencode(id: string) {
    this.reads++;
    return this.rows.find((x) => x.opencodeSessionId === id);
  }
  async move(r: MappingRecord, from: string) {
    const i = this.rows.findIndex((x) => x.sessionId === r.sessionId && x.opencodeSessionId === from);
    if (i >= 0) this.rows[i] = r;
    return this.rows.find((x) => x.sessionId === r.sessionId)!;
  }
  async latestSidecar(organizationId: string, among: string[]) {
    return this.rows.filter((x) => x.organizationId === organizationId && among.includes(x.sidecarUrl)).at(-1)?.sidecarUrl;
  }
}

const down: MappingCache = {
  bySession: () => Promise.reject(new Error("ECONNREFUSED")),
  byOpencode: () => Promise.reject(new Error("ECONNREFUSED")),
  put: () => Promise.reject(new Error("ECONNREFUSED")),
};

const silent = pino({ level: "silent" });

describe("SessionMapping", () => {
  it("moves a session to a new OpenCode session only from the one it names, and the cache follows", async () => {
    const store = new ListStore();
    const cache = new MemoryMappingCache();
    const mapping = new SessionMapping(store, cache, silent);
    await mapping.record(record);
    const moved = { ...record, opencodeSessionId: "oc2", sidecarUrl: "http://sc2" };
    expect(await mapping.move(moved, "oc1")).toEqual(moved);
    expect(await cache.bySession("org_a", "s1")).toEqual(moved);
    // A second mover that still believed in oc1 learns where the session went instead.
    expect(await mapping.move({ ...record, opencodeSessionId: "oc3" }, "oc1")).toEqual(moved);
    expect(await mapping.latestSidecar("org_a", ["http://sc", "http://sc2"])).toBe("http://sc2");
    expect(await mapping.latestSidecar("org_a", ["http://sc"])).toBeUndefined();
  });

  it("answers from the database when the cache is down, both ways", async () => {
    const store = new ListStore();
    const mapping = new SessionMapping(store, down, silent);
    expect(await mapping.record(record)).toEqual(record);
    expect(await mapping.bySession(record.organizationId, "s1")).toEqual(record);
    expect(await mapping.byOpencode("oc1")).toEqual(record);
    expect(await mapping.bySession(record.organizationId, "nope")).toBeUndefined();
  });

  it("re-warms the cache on a miss and then serves from it", async () => {
    const store = new ListStore();
    store.rows.push(record);
    const cache = new MemoryMappingCache();
    const mapping = new SessionMapping(store, cache, silent);
    expect(await mapping.bySession(record.organizationId, "s1")).toEqual(record);
    expect(await cache.byOpencode("oc1")).toEqual(record);
    const reads = store.reads;
    expect(await mapping.byOpencode("oc1")).toEqual(record);
    expect(store.reads).toBe(reads);
  });

  it("writes the database first: nothing is cached when that write fails", async () => {
    const store = new ListStore();
    store.failWrites = true;
    const cache = new MemoryMappingCache();
    await expect(new SessionMapping(store, cache, silent).record(record)).rejects.toThrow(/database down/);
    expect(await cache.bySession(record.organizationId, "s1")).toBeUndefined();
  });

  it("keeps the first mapping and caches the winner, not the loser", async () => {
    const store = new ListStore();
    const cache = new MemoryMappingCache();
    const mapping = new SessionMapping(store, cache, silent);
    await mapping.record(record);
    const kept = await mapping.record({ ...record, opencodeSessionId: "oc2" });
    expect(kept.opencodeSessionId).toBe("oc1");
    expect(await cache.bySession(record.organizationId, "s1")).toEqual(record);
    expect(await cache.byOpencode("oc2")).toBeUndefined();
  });
});
