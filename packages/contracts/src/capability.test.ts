import { describe, expect, it } from "vitest";
import { check, issue } from "./capability.js";

describe("capability tokens", () => {
  const secret = "s".repeat(32);
  const grant = { aud: "callback" as const, sessionId: "ses_1", organizationId: "org_a", ttlSeconds: 60 };

  it("round-trips the binding", () => {
    const cap = check(secret, issue(secret, grant), "callback");
    expect(cap).toMatchObject({ sid: "ses_1", org: "org_a", aud: "callback" });
  });

  it("is tamper-evident, audience-bound and expires", () => {
    const token = issue(secret, grant);
    const [p, body, sig] = token.split(".");
    const forged = Buffer.from(JSON.stringify({ v: 1, aud: "callback", sid: "ses_1", org: "org_b", exp: 9e9 })).toString("base64url");
    expect(() => check(secret, `${p}.${forged}.${sig}`, "callback")).toThrow(/signature/);
    expect(() => check(secret, `${p}.${body}.${sig}x`, "callback")).toThrow(/signature/);
    expect(() => check("other".repeat(8), token, "callback")).toThrow(/signature/);
    expect(() => check(secret, token, "stream")).toThrow(/not for stream/);
    expect(() => check(secret, token, "callback", Date.now() + 61_000)).toThrow(/expired/);
    expect(() => check(secret, "garbage", "callback")).toThrow(/malformed/);
  });
});
