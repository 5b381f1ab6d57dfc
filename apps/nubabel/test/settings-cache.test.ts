import { Redis } from "ioredis";
import { describe, expect, it, vi } from "vitest";
import { RedisCacheChanges } from "../src/adapters/redis/cache-changes.js";
import { createLogger } from "../src/log/logger.js";
import { flushPrefix, freshPrefix, hasInfra, infra } from "./fixtures/backends.js";
import type { TestNubabel } from "./fixtures/nubabel.js";
import { createOrganization } from "./fixtures/organizations.js";
import { useTwoInstances } from "./fixtures/two-instances.js";

describe.runIf(hasInfra)("settings changed on one instance reach the others' caches at once (PostgreSQL + Redis, stand-in sidecar)", () => {
  // A minute: without the announcement, B would show the old policy for that long.
  const nubabels = useTwoInstances({ SETTINGS_CACHE_MS: "60000" });

  it("shows on B the approval policy just saved on A, long before B's copy would expire", async () => {
    const { a, b } = nubabels;
    const { apiKey } = await createOrganization(a, "Cached");
    const policyOn = async (n: TestNubabel) => (await (await n.api("/api/policy", { apiKey })).json()) as { version: number; approvals: unknown[] };
    // B reads (and keeps) the default policy.
    expect((await policyOn(b)).approvals).toEqual([]);
    const saved = await a.api("/api/policy", { apiKey, method: "PUT", body: { approvals: [{ match: "bash" }] } });
    expect(saved.status).toBe(200);
    await vi.waitFor(async () => expect((await policyOn(b)).approvals).toEqual([expect.objectContaining({ match: "bash" })]), { timeout: 3_000, interval: 50 });
  });

  it("delivers an announcement to every listener of that cache, on other connections, and to nobody else", async () => {
    const prefix = freshPrefix();
    const clients = Array.from({ length: 4 }, () => new Redis(infra.redisUrl!));
    try {
      const log = createLogger("silent");
      const here = new RedisCacheChanges(clients[0]!, clients[1]!, prefix, log);
      const there = new RedisCacheChanges(clients[2]!, clients[3]!, prefix, log);
      const heard: string[] = [];
      there.listen("budget", (key) => heard.push(`budget ${key}`));
      there.listen("approval-policy", (key) => heard.push(`policy ${key}`));
      // Subscribed once the first listen's SUBSCRIBE is through.
      await vi.waitFor(async () => {
        here.announce("budget", "org_probe");
        expect(heard).toContain("budget org_probe");
      }, { timeout: 3_000, interval: 50 });
      here.announce("approval-policy", "org_a b");
      here.announce("webhook-listeners", "org_a");
      // (Probes sent before the subscription was through may still arrive: they are left out.)
      const after = () => heard.filter((h) => !h.endsWith("org_probe"));
      await vi.waitFor(() => expect(after()).toEqual(["policy org_a b"]), { timeout: 3_000, interval: 20 });
    } finally {
      for (const c of clients) c.disconnect();
      await flushPrefix(infra.redisUrl!, prefix);
    }
  });
});
