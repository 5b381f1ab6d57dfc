import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { Recent } from "./recent.js";

/** A store whose reads can be held open, counting them. */
function store<V>(value: () => V) {
  const reads: string[] = [];
  let gate: Promise<void> | undefined;
  const load = async (key: string) => {
    reads.push(key);
    const read = value();
    await gate;
    return read;
  };
  return { reads, load, hold: (until: Promise<void>) => (gate = until), release: () => (gate = undefined) };
}

describe("Recent", () => {
  it("reuses a read until it expires, one read for concurrent misses, undefined included", async () => {
    const s = store<string | undefined>(() => undefined);
    const recent = new Recent(s.load, { ttlMs: 200 });
    expect(await Promise.all([recent.get("a"), recent.get("a"), recent.get("a")])).toEqual([undefined, undefined, undefined]);
    await recent.get("a");
    expect(s.reads).toEqual(["a"]);
    await recent.get("b");
    await sleep(250);
    await recent.get("a");
    expect(s.reads).toEqual(["a", "b", "a"]);
  });

  it("reads again after forget, and a read racing the change does not keep what it read before it", async () => {
    let current = 1;
    const s = store(() => current);
    const recent = new Recent(s.load, { ttlMs: 60_000 });
    expect(await recent.get("k")).toBe(1);
    recent.forget("k");
    let open!: () => void;
    s.hold(new Promise<void>((resolve) => (open = resolve)));
    const racing = recent.get("k");
    // The change lands while that read is under way (it read 1).
    current = 2;
    recent.forget("k");
    s.release();
    open();
    expect(await racing).toBe(2);
    expect(await recent.get("k")).toBe(2);
    recent.set("k", 3);
    expect(await recent.get("k")).toBe(3);
  });

  it("gives a read racing a set the value set (lru-cache rejects it as replaced)", async () => {
    const s = store(() => "read");
    const recent = new Recent(s.load, { ttlMs: 60_000 });
    let open!: () => void;
    s.hold(new Promise<void>((resolve) => (open = resolve)));
    const racing = recent.get("k");
    recent.set("k", "set");
    open();
    expect(await racing).toBe("set");
    expect(await recent.get("k")).toBe("set");
  });

  it("reads every time with ttlMs 0, and does not keep a failed read", async () => {
    let fail = true;
    const s = store(() => {
      if (fail) throw new Error("database down");
      return "ok";
    });
    const recent = new Recent(s.load, { ttlMs: 60_000 });
    await expect(recent.get("k")).rejects.toThrow("database down");
    fail = false;
    expect(await recent.get("k")).toBe("ok");
    const uncached = new Recent(s.load, { ttlMs: 0 });
    await uncached.get("k");
    await uncached.get("k");
    expect(s.reads.filter((k) => k === "k")).toHaveLength(4);
  });

  it("drops its copy when another instance announces a change, and announces its own", async () => {
    const listeners = new Map<string, (key: string) => void>();
    const announced: string[] = [];
    const feed = { announce: (cache: string, key: string) => void announced.push(`${cache} ${key}`), listen: (cache: string, on: (key: string) => void) => void listeners.set(cache, on) };
    let current = "v1";
    const s = store(() => current);
    const recent = new Recent(s.load, { ttlMs: 60_000, changes: { feed, name: "budget" } });
    expect(await recent.get("org_a")).toBe("v1");
    current = "v2";
    expect(await recent.get("org_a")).toBe("v1");
    listeners.get("budget")!("org_a");
    expect(await recent.get("org_a")).toBe("v2");
    recent.forget("org_b");
    recent.set("org_c", "v3");
    expect(announced).toEqual(["budget org_b", "budget org_c"]);
  });
});
