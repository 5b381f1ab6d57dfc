import { describe, expect, it } from "vitest";
import { TokenSeal } from "./sealed-token.js";

const secret = `whsec_${Buffer.alloc(32, 9).toString("base64")}`;
// Sealed by the sidecar's own AES-GCM code before it moved to @nubabel/contracts: bindings already
// in Redis hold values like it and must still open.
const earlier = "s1.eUvMKcH6BilkWfr0.G2M0g0xlEdQPmK6VEZ7U0w.YXspLCN7wPgkGEzKagQgLQ";

describe("TokenSeal", () => {
  it("opens a token sealed before, and what it seals now", () => {
    const seal = new TokenSeal(secret);
    expect(seal.open(earlier)).toBe("cap1.payload.sig");
    const now = seal.seal("cap1.other.sig");
    expect(now).toMatch(/^s1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    expect(seal.open(now)).toBe("cap1.other.sig");
  });

  it("refuses a token whose tag was cut short (the earlier code opened it with 4 bytes left)", () => {
    const [version, iv, body, tag] = earlier.split(".");
    for (const length of [12, 8, 4]) {
      const cut = Buffer.from(tag!, "base64url").subarray(0, length).toString("base64url");
      expect(new TokenSeal(secret).open([version, iv, body, cut].join("."))).toBeUndefined();
    }
  });
});
