import { describe, expect, it } from "vitest";
import { generateSecret, MemoryReplayGuard, sign, SignatureError, verify } from "./webhooks.js";

describe("Standard Webhooks signing", () => {
  const secret = generateSecret();
  const body = JSON.stringify({ hello: "world" });

  it("accepts a signed request once and refuses its replay", async () => {
    const guard = new MemoryReplayGuard();
    const headers = sign(secret, body);
    await expect(verify(secret, body, headers, guard)).resolves.toBeUndefined();
    await expect(verify(secret, body, headers, guard)).rejects.toThrow(/replayed/);
  });

  it("refuses a tampered body, another secret, missing headers and stale timestamps", async () => {
    const guard = new MemoryReplayGuard();
    await expect(verify(secret, body + " ", sign(secret, body), guard)).rejects.toBeInstanceOf(SignatureError);
    await expect(verify(generateSecret(), body, sign(secret, body), guard)).rejects.toBeInstanceOf(SignatureError);
    await expect(verify(secret, body, {}, guard)).rejects.toThrow(/missing/);
    const old = sign(secret, body, new Date(Date.now() - 6 * 60_000));
    await expect(verify(secret, body, old, guard)).rejects.toThrow(/too old/i);
  });
});
