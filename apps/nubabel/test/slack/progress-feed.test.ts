import type { ProgressEvent } from "@nubabel/contracts";
import { describe, expect, it } from "vitest";
// The core's own in-process log: the feed must work on it as is (structural compatibility).
import { MemoryProgressLog } from "../../src/adapters/memory/progress-log.js";
import { watchProgressLog, type ProgressEntry, type ProgressSource } from "../../src/slack/progress-feed.js";
import { until } from "./harness.js";

const status = (message: string): ProgressEvent => ({ type: "status", data: { status: "busy", message }, timestamp: new Date().toISOString() });
/** The session id as its log's name (the core names logs by organization and session). */
const byId = (_organizationId: string, sessionId: string) => sessionId;
const messages = (events: ProgressEvent[]) => events.map((e) => (e.type === "status" ? e.data.message : e.type));

describe("watchProgressLog", () => {
  it("delivers what is appended after the watch started, once each and in order, and nothing after unsubscribe", async () => {
    const log = new MemoryProgressLog();
    await log.append("ses_1", status("before"));
    const seen: ProgressEvent[] = [];
    const stop = await watchProgressLog(log, byId)("org_a", "ses_1", (e) => seen.push(e));
    for (let i = 0; i < 450; i++) await log.append("ses_1", status(`e${i}`));
    await log.append("ses_other", status("elsewhere"));
    await until(() => seen.length === 450, 5_000, "all events");
    expect(messages(seen)).toEqual(Array.from({ length: 450 }, (_, i) => `e${i}`));
    await stop();
    await log.append("ses_1", status("after"));
    await new Promise((r) => setTimeout(r, 50));
    expect(seen).toHaveLength(450);
  });

  it("fills gaps from the log when notifications are lost or arrive out of order", async () => {
    const entries: ProgressEntry[] = [];
    let notify: (entry: ProgressEntry) => void = () => undefined;
    const source: ProgressSource = {
      lastId: async () => "0-0",
      readAfter: async (_s, after) => entries.filter((e) => Number(e.id.split("-")[0]) > Number(after.split("-")[0])),
      subscribe: async (_s, onAppend) => {
        notify = onAppend;
        return async () => undefined;
      },
    };
    const seen: ProgressEvent[] = [];
    await watchProgressLog(source, byId)("org_a", "ses_1", (e) => seen.push(e));
    for (let i = 1; i <= 5; i++) entries.push({ id: `${i}-0`, event: status(`e${i}`) });
    // Only the third append is announced (the others' notifications were lost): all five arrive.
    notify(entries[2]!);
    await until(() => seen.length === 5, 2_000, "five events");
    notify(entries[0]!);
    await new Promise((r) => setTimeout(r, 20));
    expect(messages(seen)).toEqual(["e1", "e2", "e3", "e4", "e5"]);
  });
});
