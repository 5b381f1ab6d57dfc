import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LiveMessage, type Clock, type MessageWriter } from "./live-message.js";

/** A clock that moves only when told, so the budget is checked exactly, not against wall time. */
class ManualClock implements Clock {
  private t = 0;
  private timers: Array<{ at: number; resolve: () => void }> = [];
  now = () => this.t;
  sleep = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      this.timers.push({ at: this.t + ms, resolve });
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
  async advance(ms: number): Promise<void> {
    for (let i = 0; i < ms; i++) {
      this.t += 1;
      const due = this.timers.filter((x) => x.at <= this.t);
      this.timers = this.timers.filter((x) => x.at > this.t);
      for (const x of due) x.resolve();
      await flush();
    }
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

/** Records writes with the clock's time; `hold` keeps updates in flight until released. */
function recorder(clock: ManualClock) {
  const writes: Array<{ op: "post" | "update"; text: string; at: number }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const held: Array<() => void> = [];
  const state = { hold: false, failPost: false };
  const writer: MessageWriter = {
    async post(text) {
      if (state.failPost) throw new Error("channel_not_found");
      writes.push({ op: "post", text, at: clock.now() });
      return `ts${writes.length}`;
    },
    async update(_ts, text) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (state.hold) await new Promise<void>((r) => held.push(r));
      writes.push({ op: "update", text, at: clock.now() });
      inFlight--;
    },
  };
  return { writes, writer, state, held, maxInFlight: () => maxInFlight };
}

const log = pino({ level: "silent" });

describe("LiveMessage", () => {
  it("sends at most one update per interval, coalescing to the latest text", async () => {
    const clock = new ManualClock();
    const r = recorder(clock);
    const live = new LiveMessage(r.writer, 1_000, log, clock);
    await live.open("start");
    for (let i = 0; i < 25_000; i++) {
      live.show(`step ${i}`);
      if (i % 10 === 0) await clock.advance(1);
    }
    await clock.advance(1_500);
    const updates = r.writes.filter((w) => w.op === "update");
    // 25,000 texts over 2.5 s, then 1.5 s of quiet: three requests, one per second, the last one current.
    expect(updates.map((u) => u.at)).toEqual([1_000, 2_000, 3_000]);
    expect(updates.at(-1)!.text).toBe("step 24999");
  });

  it("never has two updates in flight; a slow one (a 429 being waited out) is followed by the latest text", async () => {
    const clock = new ManualClock();
    const r = recorder(clock);
    const live = new LiveMessage(r.writer, 100, log, clock);
    await live.open("start");
    r.state.hold = true;
    live.show("a");
    await clock.advance(100);
    live.show("b");
    live.show("c");
    await clock.advance(5_000);
    expect(r.writes.filter((w) => w.op === "update")).toHaveLength(0);
    r.state.hold = false;
    r.held.shift()!();
    await clock.advance(1);
    await flush();
    expect(r.writes.filter((w) => w.op === "update").map((w) => w.text)).toEqual(["a", "c"]);
    expect(r.maxInFlight()).toBe(1);
  });

  it("finishes after the update in flight, replacing the message and posting the rest in order", async () => {
    const clock = new ManualClock();
    const r = recorder(clock);
    const live = new LiveMessage(r.writer, 100, log, clock);
    await live.open("start");
    r.state.hold = true;
    live.show("progress");
    await clock.advance(100);
    const done = live.finish(["part 1", "part 2", "part 3"]);
    live.show("too late");
    await flush();
    r.state.hold = false;
    r.held.shift()!();
    await done;
    expect(r.writes.map((w) => `${w.op}:${w.text}`)).toEqual(["post:start", "update:progress", "update:part 1", "post:part 2", "post:part 3"]);
  });

  it("does not make the answer wait for the next interval", async () => {
    const clock = new ManualClock();
    const r = recorder(clock);
    const live = new LiveMessage(r.writer, 10_000, log, clock);
    await live.open("start");
    live.show("pending");
    await clock.advance(10);
    await live.finish(["answer"]);
    expect(r.writes.map((w) => `${w.op}:${w.text}@${w.at}`)).toEqual(["post:start@0", "update:answer@10"]);
  });

  it("posts the whole answer when the progress message could not be posted", async () => {
    const clock = new ManualClock();
    const r = recorder(clock);
    r.state.failPost = true;
    const live = new LiveMessage(r.writer, 100, log, clock);
    await live.open("start");
    live.show("ignored: nothing to update");
    r.state.failPost = false;
    await live.finish(["one", "two"]);
    expect(r.writes.map((w) => `${w.op}:${w.text}`)).toEqual(["post:one", "post:two"]);
  });
});
