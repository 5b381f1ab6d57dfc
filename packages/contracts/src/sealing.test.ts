import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { open, seal } from "./sealing.js";

const key = randomBytes(32);

describe("Sealing", () => {
  it("round-trips with a 12-byte IV and a 16-byte tag, bound to its aad", () => {
    const sealed = seal(key, "héllo", "conn_a");
    expect(sealed.iv).toHaveLength(12);
    expect(sealed.tag).toHaveLength(16);
    expect(open(key, sealed, "conn_a")).toBe("héllo");
    expect(() => open(key, sealed, "conn_b")).toThrow();
    expect(() => open(randomBytes(32), sealed, "conn_a")).toThrow();
  });

  it("refuses a tag cut short, which GCM alone would check only as far as it goes", () => {
    const sealed = seal(key, "token");
    for (const length of [15, 12, 8, 4]) {
      expect(() => open(key, { ...sealed, tag: sealed.tag.subarray(0, length) })).toThrow(/tag/);
    }
  });

  it("refuses an IV of another length", () => {
    const sealed = seal(key, "token");
    expect(() => open(key, { ...sealed, iv: Buffer.concat([sealed.iv, Buffer.alloc(4)]) })).toThrow(/IV/);
  });
});
