import type { ApiKeyCreated, ApiKeyList, ApiKeyRevoked, AuditPage, StreamToken } from "@nubabel/contracts";
import { MAX_API_KEYS } from "@nubabel/contracts";
import { describe, expect, it, vi } from "vitest";
import { hasInfra } from "./fixtures/backends.js";
import type { TestNubabel } from "./fixtures/nubabel.js";
import { Organizations } from "../src/organizations/index.js";
import { createOrganization } from "./fixtures/organizations.js";
import { openSse } from "./fixtures/sse-client.js";
import { useTwoInstances } from "./fixtures/two-instances.js";

describe.runIf(hasInfra)("an organization's API keys: made, listed and revoked by the organization, on two instances (PostgreSQL + Redis, stand-in sidecar)", () => {
  // A minute: without the announcement, B would accept a revoked key it had seen for that long.
  const nubabels = useTwoInstances({ SETTINGS_CACHE_MS: "60000", PROGRESS_HEARTBEAT_MS: "200" });

  const call = async <T>(n: TestNubabel, path: string, apiKey: string, init: { method?: string; body?: unknown } = {}) => {
    const res = await n.api(path, { apiKey, ...init });
    return { status: res.status, body: (await res.json()) as T & { error?: { code: string; message: string; details?: { fields?: string[] } } } };
  };
  const works = async (n: TestNubabel, apiKey: string) => (await n.api("/api/sessions", { apiKey })).status;

  it("makes a key shown once, which works at once; the first key revokes, and B refuses it long before its copy expires", async () => {
    const { a, b } = nubabels;
    const { apiKey: first } = await createOrganization(a, "Keys");
    const listed = await call<ApiKeyList>(a, "/api/keys", first);
    expect(listed.status).toBe(200);
    const firstId = listed.body.keys[0]!.id;
    expect(listed.body.keys).toEqual([{ id: expect.stringMatching(/^key_/), prefix: first.slice(0, 10), createdAt: expect.any(String), current: true }]);

    const made = await call<ApiKeyCreated>(a, "/api/keys", first, { method: "POST", body: { name: "ci" } });
    expect(made.status).toBe(201);
    const second = made.body.apiKey;
    expect(made.body).toMatchObject({ id: expect.stringMatching(/^key_/), prefix: second.slice(0, 10), name: "ci" });
    expect(second).toMatch(/^nbk_[A-Za-z0-9_-]{43}$/);
    expect(await works(b, second)).toBe(200);
    // B keeps the first key it found (for a minute).
    expect(await works(b, first)).toBe(200);

    const all = await call<ApiKeyList>(a, "/api/keys", second);
    expect(all.body.keys.map((k) => [k.prefix, k.current])).toEqual([[first.slice(0, 10), false], [second.slice(0, 10), true]]);
    // Never a key nor its hash.
    for (const k of [first, second]) for (const hidden of [k, Organizations.hashKey(k)]) expect(JSON.stringify(all.body)).not.toContain(hidden);

    // On B, a stream opened with each key, and one with a stream token each key made on A.
    const streamOn = (apiKey: string) => openSse(`${b.url}/api/sidecar/sessions/ses_keys/stream`, { authorization: `Bearer ${apiKey}` });
    const tokenOf = async (apiKey: string) => (await call<StreamToken>(a, "/api/sessions/ses_keys/stream-token", apiKey, { method: "POST" })).body;
    const [firstToken, secondToken] = await Promise.all([tokenOf(first), tokenOf(second)]);
    const tokenStream = (token: StreamToken) => openSse(`${b.url}${token.url}`);
    const [doomed, kept, doomedByToken, keptByToken] = await Promise.all([streamOn(first), streamOn(second), tokenStream(firstToken), tokenStream(secondToken)]);
    await Promise.all([doomed, doomedByToken].map((s) => s.until((c) => c.comments.includes("heartbeat"))));

    const revoked = await call<ApiKeyRevoked>(a, `/api/keys/${firstId}/revoke`, second, { method: "POST" });
    expect(revoked).toMatchObject({ status: 200, body: { id: firstId, revokedAt: expect.any(String) } });
    expect(await works(a, first)).toBe(401);
    await vi.waitFor(async () => expect(await works(b, first)).toBe(401), { timeout: 3_000, interval: 50 });
    expect(await works(b, second)).toBe(200);
    // B ends the streams of the revoked key, opened with it or with a token it made, at their next
    // heartbeat, and keeps the others; the revoked key's token opens no new one.
    await expect(doomed.until(() => false, 5_000)).rejects.toThrow(/stream ended/);
    await expect(doomedByToken.until(() => false, 5_000)).rejects.toThrow(/stream ended/);
    await Promise.all([kept, keptByToken].map((s) => s.until((c) => c.comments.filter((x) => x === "heartbeat").length >= 3)));
    kept.close();
    keptByToken.close();
    const refused = await fetch(`${b.url}${firstToken.url}`);
    expect(refused.status).toBe(401);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/revoked/);
    // The token names the key by its id only.
    const claims = Buffer.from(firstToken.token.split(".")[1]!, "base64url").toString();
    expect(JSON.parse(claims)).toMatchObject({ kid: firstId });
    for (const hidden of [first, Organizations.hashKey(first)]) expect(claims).not.toContain(hidden);
    // Again: the same answer, nothing changes.
    expect((await call<ApiKeyRevoked>(b, `/api/keys/${firstId}/revoke`, second, { method: "POST" })).body).toEqual(revoked.body);
    expect((await call<ApiKeyList>(b, "/api/keys", second)).body.keys[0]).toMatchObject({ id: firstId, revokedAt: revoked.body.revokedAt, current: false });

    // The last working key stays.
    const secondId = made.body.id;
    const last = await call(a, `/api/keys/${secondId}/revoke`, second, { method: "POST" });
    expect(last).toMatchObject({ status: 409, body: { error: { code: "last_api_key" } } });
    expect(await works(a, second)).toBe(200);

    // Each change is in the audit trail, as `api`, naming the key by id and prefix only.
    const audit = await call<AuditPage>(a, "/api/audit", second);
    const entries = audit.body.entries.filter((e) => e.kind === "api_key");
    expect(entries.map((e) => [e.action, e.actor])).toEqual([["create", "api"], ["revoke", "api"]]);
    expect(entries[1]!.detail).toContain(firstId);
    for (const k of [first, second]) for (const hidden of [k, Organizations.hashKey(k), "ci"]) expect(JSON.stringify(audit.body)).not.toContain(`"${hidden}`);
  });

  it("shows and touches only the organization's own keys: another's is a 404 and stays working", async () => {
    const { a } = nubabels;
    const owner = await createOrganization(a, "Owner");
    const other = await createOrganization(a, "Other");
    const ownerKeys = await call<ApiKeyList>(a, "/api/keys", owner.apiKey);
    const ownerKeyId = ownerKeys.body.keys[0]!.id;
    await call(a, "/api/keys", owner.apiKey, { method: "POST" });
    const seen = await call<ApiKeyList>(a, "/api/keys", other.apiKey);
    expect(seen.body.keys).toHaveLength(1);
    expect(seen.body.keys[0]!.id).not.toBe(ownerKeyId);
    const stolen = await call(a, `/api/keys/${ownerKeyId}/revoke`, other.apiKey, { method: "POST" });
    expect(stolen).toMatchObject({ status: 404, body: { error: { code: "api_key_not_found" } } });
    expect(await works(a, owner.apiKey)).toBe(200);
    expect((await call(a, "/api/keys/key_nope/revoke", other.apiKey, { method: "POST" })).status).toBe(404);
    expect((await a.api("/api/keys")).status).toBe(401);
    expect((await a.api("/api/keys", { apiKey: `${owner.apiKey}x` })).status).toBe(401);
  });

  it("refuses a bad body with a 400 naming the field, makes one with none, and bounds how many an organization holds", async () => {
    const { a } = nubabels;
    const { apiKey } = await createOrganization(a, "Bounds");
    // Labelled JSON with nothing in it is no body: a key with no name.
    const labelled = await a.api("/api/keys", { apiKey, method: "POST", headers: { "content-type": "application/json" } });
    expect(labelled.status).toBe(201);
    for (const body of [{ name: 5 }, { name: "" }, { name: "x".repeat(101) }, { name: "tab\u0007bell" }, { label: "ci" }]) {
      const res = await call(a, "/api/keys", apiKey, { method: "POST", body });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error?.code).toBe("invalid_request");
      expect(res.body.error?.message).toMatch(/name|label/);
    }
    const bare = await a.api("/api/keys", { apiKey, method: "POST" });
    expect(bare.status).toBe(201);
    for (let i = 3; i < MAX_API_KEYS; i++) expect((await call(a, "/api/keys", apiKey, { method: "POST", body: { name: `k${i}` } })).status).toBe(201);
    const over = await call(a, "/api/keys", apiKey, { method: "POST", body: {} });
    expect(over).toMatchObject({ status: 409, body: { error: { code: "too_many_api_keys" } } });
    expect((await call<ApiKeyList>(a, "/api/keys", apiKey)).body.keys).toHaveLength(MAX_API_KEYS);
  });
});
