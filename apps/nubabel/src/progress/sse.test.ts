import { describe, expect, it, vi } from "vitest";
import type { ProgressEvent, StreamEvent } from "@nubabel/contracts";
import { MemoryProgressLog } from "../adapters/memory/progress-log.js";
import type { Entry, ProgressLog } from "./progress-log.js";
import { streamSession } from "./sse.js";

const event = (message: string): ProgressEvent => ({ type: "status", data: { status: "busy", message }, timestamp: new Date().toISOString() });
const quiet = { warn: () => undefined, debug: () => undefined };

/**
 * A log whose live notifications the test delivers by hand: late, repeated, out of order, or not
 * at all, as pub/sub across instances may.
 */
class ScrambledLog implements ProgressLog {
  readonly inner = new MemoryProgressLog();
  listeners: Array<(e: Entry) => void> = [];
  append = (s: string, e: ProgressEvent) => this.inner.append(s, e);
  readAfter = (s: string, id: string, limit?: number) => this.inner.readAfter(s, id, limit);
  lastId = (s: string) => this.inner.lastId(s);
  watchEndings = (cb: (runId: string) => void) => this.inner.watchEndings(cb);
  async subscribe(_s: string, cb: (e: Entry) => void) {
    this.listeners.push(cb);
    return async () => void (this.listeners = this.listeners.filter((l) => l !== cb));
  }
  nudge(entry: Entry) {
    for (const l of this.listeners) l(entry);
  }
}

function sink() {
  const frames: string[] = [];
  let close = () => undefined as void;
  return {
    frames,
    events: () =>
      frames.filter((f) => f.startsWith("id:")).map((f) => JSON.parse(f.split("\n").find((l) => l.startsWith("data: "))!.slice(6)) as StreamEvent),
    hangUp: () => close(),
    sink: { write: (c: string) => (frames.push(c), true), onClose: (fn: () => void) => void (close = fn) },
  };
}

describe("streamSession", () => {
  it("sends every event once and in log order however notifications arrive", async () => {
    const log = new ScrambledLog();
    const out = sink();
    await log.append("s", event("before"));
    await streamSession({ log, stream: "s", sessionId: "s", afterId: undefined, heartbeatMs: 60_000, sink: out.sink, logger: quiet });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(await log.append("s", event(`m${i}`)));
    const entries = await log.readAfter("s", "0-0");
    // Newest first, one twice, one never.
    for (const e of [...entries].reverse()) log.nudge(e);
    log.nudge(entries[2]!);
    await vi.waitFor(() => expect(out.events().length).toBeGreaterThanOrEqual(7));
    const sent = out.events();
    expect(sent[0]!.type).toBe("connected");
    expect(sent.slice(1).map((e) => e.id)).toEqual(ids);
    expect(sent.slice(1).map((e) => (e.type === "status" ? e.data.message : ""))).toEqual(["m0", "m1", "m2", "m3", "m4", "m5"]);
    out.hangUp();
    expect(log.listeners).toHaveLength(0);
  });

  it("replays after the given id, then follows, with the connected frame at that id", async () => {
    const log = new ScrambledLog();
    const a = await log.append("s", event("a"));
    const b = await log.append("s", event("b"));
    const out = sink();
    await streamSession({ log, stream: "s", sessionId: "s", afterId: a, heartbeatMs: 60_000, sink: out.sink, logger: quiet });
    const c = await log.append("s", event("c"));
    log.nudge({ id: c, event: event("c") });
    await vi.waitFor(() => expect(out.events().map((e) => e.id)).toEqual([a, b, c]));
    expect(out.frames[0]).toMatch(new RegExp(`^id: ${a}\n`));
    out.hangUp();
  });

  it("sends a notification that follows the last entry sent as it comes, without reading the log", async () => {
    const log = new MemoryProgressLog();
    const out = sink();
    await log.append("s", event("before"));
    await streamSession({ log, stream: "s", sessionId: "s", afterId: "0-0", heartbeatMs: 60_000, sink: out.sink, logger: quiet });
    const reads = vi.spyOn(log, "readAfter");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push(await log.append("s", event(`m${i}`)));
    await vi.waitFor(() => expect(out.events().map((e) => e.id).slice(-5)).toEqual(ids));
    expect(out.events().map((e) => (e.type === "status" ? e.data.message : e.type))).toEqual(["connected", "before", "m0", "m1", "m2", "m3", "m4"]);
    expect(reads).not.toHaveBeenCalled();
    out.hangUp();
  });

  it("reads the log again when a notification does not follow the last entry sent (one was lost)", async () => {
    const log = new ScrambledLog();
    const out = sink();
    const start = await log.append("s", event("start"));
    await streamSession({ log, stream: "s", sessionId: "s", afterId: start, heartbeatMs: 60_000, sink: out.sink, logger: quiet });
    const a = await log.append("s", event("a"));
    const b = await log.append("s", event("b"));
    // The notification of `a` never came; `b`'s names `a` before it.
    log.nudge({ id: b, prev: a, event: event("b") });
    await vi.waitFor(() => expect(out.events().map((e) => e.id)).toEqual([start, a, b]));
    // Then one in sequence is sent as is: its event as the notification carried it.
    const c = await log.append("s", event("c"));
    log.nudge({ id: c, prev: b, event: event("c as notified") });
    await vi.waitFor(() => expect(out.events().map((e) => e.id)).toEqual([start, a, b, c]));
    expect(out.events().at(-1)).toMatchObject({ data: { message: "c as notified" } });
    out.hangUp();
  });

  it("sends heartbeat comments and stops them on close", async () => {
    const log = new ScrambledLog();
    const out = sink();
    await streamSession({ log, stream: "s", sessionId: "s", afterId: undefined, heartbeatMs: 5, sink: out.sink, logger: quiet });
    await vi.waitFor(() => expect(out.frames).toContain(": heartbeat\n\n"));
    out.hangUp();
    const count = out.frames.filter((f) => f === ": heartbeat\n\n").length;
    expect(count).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 30));
    expect(out.frames.filter((f) => f === ": heartbeat\n\n").length).toBe(count);
  });
});
