import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { Webhooks } from "@nubabel/contracts";
import type { Binding } from "../bindings/binding.js";
import { RedisBindingStore } from "./redis/binding-store.js";
import { TokenSeal } from "./redis/sealed-token.js";
import { redisUrl } from "../../test/infra.js";

const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
const prefix = `sidecar-test:${randomUUID()}:`;
afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe("RedisBindingStore", () => {
  const secret = Webhooks.generateSecret();
  const token = "cap1.eyJ2IjoxfQ.c2lnbmF0dXJl";
  const binding: Binding = { opencodeSessionId: "ses_sealed", nubabelSessionId: "s1", organizationId: "org_a", directory: "/w/org_a", callbackToken: token };

  it("keeps the capability token sealed in Redis, and gives it back to the sidecar that sealed it", async () => {
    const store = new RedisBindingStore(redis, prefix, new TokenSeal(secret));
    await store.set(binding);
    const raw = (await redis.get(`${prefix}binding:ses_sealed`))!;
    expect(raw).not.toContain(token);
    expect(raw).not.toContain("c2lnbmF0dXJl");
    expect(JSON.parse(raw)).toMatchObject({ organizationId: "org_a", sealedToken: expect.stringMatching(/^s1\./) });
    expect(await store.get("ses_sealed")).toEqual(binding);
  });

  it("opens no token sealed under another secret, and keeps the rest of the binding", async () => {
    await new RedisBindingStore(redis, prefix, new TokenSeal(secret)).set(binding);
    const other = new RedisBindingStore(redis, prefix, new TokenSeal(Webhooks.generateSecret()));
    const { callbackToken: _token, ...rest } = binding;
    expect(await other.get("ses_sealed")).toEqual(rest);
  });
});
