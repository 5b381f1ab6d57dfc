import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { EventDedupe, SlackLinks, SlackThreads, ThreadKey } from "../../src/slack/index.js";

/**
 * What every adapter of the Slack ports promises. The in-process adapters run these here; the
 * Postgres and Redis adapters call the same functions from their own test files.
 */
let n = 0;
const unique = (label: string) => `${label}${++n}${Math.random().toString(36).slice(2, 8).toUpperCase()}`;
const thread = (): ThreadKey => ({ teamId: unique("T"), channelId: unique("C"), threadTs: `17${Date.now()}.${++n}` });

/** `organizations`: two existing organization ids, read when the tests run (filled in a `beforeAll`). */
export function slackThreadsContract(name: string, make: () => SlackThreads | Promise<SlackThreads>, organizations: readonly [string, string]): void {
  describe(`SlackThreads (${name})`, () => {
    it("finds nothing for a thread it never saw", async () => {
      expect(await (await make()).find(thread())).toBeUndefined();
    });

    it("keeps the first claim of a thread, even when claims race", async () => {
      const threads = await make();
      const t = thread();
      const claims = await Promise.all(
        Array.from({ length: 5 }, (_, i) => threads.claim(t, { sessionId: `ses_race${i}`, organizationId: organizations[0] })),
      );
      const kept = claims[0]!;
      expect(claims.every((c) => c.sessionId === kept.sessionId && c.organizationId === organizations[0])).toBe(true);
      expect(await threads.find(t)).toEqual(kept);
      expect(await threads.claim(t, { sessionId: "ses_later", organizationId: organizations[1] })).toEqual(kept);
    });

    it("tells threads apart by team, channel and ts", async () => {
      const threads = await make();
      const t = thread();
      await threads.claim(t, { sessionId: "ses_one", organizationId: organizations[0] });
      for (const other of [{ ...t, teamId: unique("T") }, { ...t, channelId: unique("C") }, { ...t, threadTs: `${t.threadTs}1` }]) {
        expect(await threads.find(other)).toBeUndefined();
      }
    });
  });
}

export function eventDedupeContract(name: string, make: () => EventDedupe | Promise<EventDedupe>): void {
  describe(`EventDedupe (${name})`, () => {
    it("lets exactly one of many concurrent claims of a key through", async () => {
      const dedupe = await make();
      const key = unique("event:");
      const results = await Promise.all(Array.from({ length: 10 }, () => dedupe.claim(key, 60)));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await dedupe.claim(unique("event:"), 60)).toBe(true);
    });

    it("forgets a key after its TTL", async () => {
      const dedupe = await make();
      const key = unique("event:");
      expect(await dedupe.claim(key, 1)).toBe(true);
      expect(await dedupe.claim(key, 1)).toBe(false);
      await sleep(1_100);
      expect(await dedupe.claim(key, 1)).toBe(true);
    });
  });
}

export function slackLinksContract(
  name: string,
  make: () => Promise<{ links: SlackLinks; link(teamId: string, organizationId: string): Promise<void> }>,
  organizations: readonly [string, string],
): void {
  describe(`SlackLinks (${name})`, () => {
    it("answers the linked organization, and undefined for an unlinked workspace", async () => {
      const { links, link } = await make();
      const team = unique("T");
      expect(await links.organizationFor(team)).toBeUndefined();
      await link(team, organizations[0]);
      expect(await links.organizationFor(team)).toBe(organizations[0]);
      expect(await links.organizationFor(unique("T"))).toBeUndefined();
    });

    it("re-points a workspace linked again to another organization", async () => {
      const { links, link } = await make();
      const team = unique("T");
      await link(team, organizations[0]);
      await link(team, organizations[1]);
      expect(await links.organizationFor(team)).toBe(organizations[1]);
    });
  });
}
