import { describe, expect, it } from "vitest";
import { KeyringInvalidError } from "./errors.js";
import { format, generateKey, parse } from "./keyring.js";

describe("Keyring.parse", () => {
  it("takes the first key as current and keeps the others for decryption", () => {
    const k1 = generateKey();
    const k2 = generateKey();
    const ring = parse(`k2:${k2}, k1:${k1}`);
    expect(ring.current).toBe("k2");
    expect([...ring.keys.keys()]).toEqual(["k2", "k1"]);
    expect(ring.keys.get("k1")!.toString("base64")).toBe(k1);
    expect(format(ring)).toBe(`k2:${k2},k1:${k1}`);
  });

  it.each([
    ["", "is empty"],
    ["k1", "has no key id"],
    [`k1:${Buffer.alloc(16).toString("base64")}`, "exactly 32 bytes"],
    ["k1:not base64!!", "exactly 32 bytes"],
    [`bad id:${Buffer.alloc(32).toString("base64")}`, "key id"],
    [`k1:${Buffer.alloc(32).toString("base64")},k1:${Buffer.alloc(32, 1).toString("base64")}`, "appears twice"],
  ])("refuses %j, naming the variable", (value, why) => {
    let error: unknown;
    try {
      parse(value, "NUBABEL_ENCRYPTION_KEY");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(KeyringInvalidError);
    expect((error as Error).message).toMatch(/^NUBABEL_ENCRYPTION_KEY: /);
    expect((error as Error).message).toContain(why);
  });

  it("never echoes key material in its errors", () => {
    const short = Buffer.alloc(31, 7).toString("base64");
    expect(() => parse(`k1:${short}`)).toThrow(KeyringInvalidError);
    try {
      parse(`k1:${short}`);
    } catch (e) {
      expect((e as Error).message).not.toContain(short);
    }
  });

  it("generates 32 random bytes", () => {
    const a = generateKey();
    expect(Buffer.from(a, "base64")).toHaveLength(32);
    expect(generateKey()).not.toBe(a);
  });
});
