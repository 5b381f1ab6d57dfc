import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { generateSecret, MemoryReplayGuard, NativeWebhook, Outgoing, type Route, routeSecret, sign, SignatureError, verify } from "./webhooks.js";

describe("Standard Webhooks signing", () => {
  const secret = generateSecret();
  const body = JSON.stringify({ hello: "world" });
  const route: Route = { direction: "nubabel-to-sidecar", method: "POST", path: "/delegate" };

  it("accepts a signed request once and refuses its replay", async () => {
    const guard = new MemoryReplayGuard();
    const headers = sign(secret, route, body);
    await expect(verify(secret, route, body, headers, guard)).resolves.toBeUndefined();
    await expect(verify(secret, route, body, headers, guard)).rejects.toThrow(/replayed/);
  });

  it("refuses a tampered body, another secret, missing headers and stale timestamps", async () => {
    const guard = new MemoryReplayGuard();
    await expect(verify(secret, route, body + " ", sign(secret, route, body), guard)).rejects.toBeInstanceOf(SignatureError);
    await expect(verify(generateSecret(), route, body, sign(secret, route, body), guard)).rejects.toBeInstanceOf(SignatureError);
    await expect(verify(secret, route, body, {}, guard)).rejects.toThrow(/missing/);
    const old = sign(secret, route, body, new Date(Date.now() - 6 * 60_000));
    await expect(verify(secret, route, body, old, guard)).rejects.toThrow(/too old/i);
  });

  it("binds the signature to direction, method and path, but not to the query", async () => {
    const headers = sign(secret, route, body);
    const others: Route[] = [
      { ...route, direction: "sidecar-to-nubabel" },
      { ...route, method: "GET" },
      { ...route, path: "/sessions/ses_x/abort" },
      { ...route, path: "/delegate/" },
    ];
    for (const other of others) {
      await expect(verify(secret, other, body, headers, new MemoryReplayGuard()), JSON.stringify(other)).rejects.toBeInstanceOf(SignatureError);
    }
    await expect(verify(secret, { ...route, method: "post", path: "/delegate?x=1" }, body, headers, new MemoryReplayGuard())).resolves.toBeUndefined();
  });

  it("derives the route key as documented, so any Standard Webhooks library verifies it", () => {
    const headers = sign(secret, route, body);
    const key = createHmac("sha256", Buffer.from(secret.slice("whsec_".length), "base64")).update("nubabel-to-sidecar POST /delegate").digest("base64");
    expect(routeSecret(secret, route)).toBe(`whsec_${key}`);
    expect(() => new Webhook(`whsec_${key}`).verify(body, headers)).not.toThrow();
    expect(() => new Webhook(secret).verify(body, headers)).toThrow();
  });

  it("signs exactly as the library does, so either verifies the other's", () => {
    const bodies = ["", "{}", body, "é ✓ 😀 \u0000", "x".repeat(70_000), Buffer.from("as bytes").toString("base64")];
    for (const text of bodies) {
      const s = generateSecret();
      const at = new Date(Date.now() - Math.floor(Math.random() * 200_000));
      const id = `msg_${Math.random().toString(36).slice(2)}`;
      const ours = new NativeWebhook(s).sign(id, at, text);
      expect(ours).toBe(new Webhook(s).sign(id, at, text));
      expect(new NativeWebhook(s).sign(id, at, Buffer.from(text))).toBe(ours);
      const headers = { "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": ours };
      expect(() => new Webhook(s).verify(text, headers, { jsonParse: false })).not.toThrow();
      expect(() => new NativeWebhook(s).verify(text, headers, { jsonParse: false })).not.toThrow();
      expect(() => new NativeWebhook(s).verify(`${text} `, headers, { jsonParse: false })).toThrow();
    }
    expect(() => new NativeWebhook("whsec_")).toThrow();
  });

  it("lets a retry of one message through (same id, later timestamp) while an exact copy is refused", async () => {
    const guard = new MemoryReplayGuard();
    const message = new Outgoing();
    const first = message.sign(secret, route, body);
    const retry = message.sign(secret, route, body);
    expect(retry["webhook-id"]).toBe(first["webhook-id"]);
    expect(Number(retry["webhook-timestamp"])).toBeGreaterThan(Number(first["webhook-timestamp"]));
    await verify(secret, route, body, first, guard);
    await expect(verify(secret, route, body, retry, guard)).resolves.toBeUndefined();
    await expect(verify(secret, route, body, retry, guard)).rejects.toThrow(/replayed/);
  });
});
