import { describe, expect, it } from "vitest";
import { decrypt, encrypt, keyIdOf, needsRotation, rotate } from "./cipher.js";
import { open, reseal, seal } from "./credentials.js";
import { DecryptError, UnknownKeyError } from "./errors.js";
import { generateKey, parse } from "./keyring.js";
import { rotateAll } from "./rotation.js";
import type { AuditRecord } from "../audit/index.js";

const k1 = generateKey();
const k2 = generateKey();
const old = parse(`k1:${k1}`);
const rotated = parse(`k2:${k2},k1:${k1}`);

describe("Cipher", () => {
  it("round-trips under the current key with a keyId prefix and fresh IVs", () => {
    const blob = encrypt(old, "héllo secret", "conn_a");
    expect(blob.startsWith("k1:")).toBe(true);
    expect(blob).not.toContain("secret");
    expect(decrypt(old, blob, "conn_a")).toBe("héllo secret");
    expect(encrypt(old, "héllo secret", "conn_a")).not.toBe(blob);
  });

  it("detects tampering anywhere in the ciphertext", () => {
    const blob = encrypt(old, "payload", "conn_a");
    const bytes = Buffer.from(blob.slice(3), "base64");
    for (const at of [0, 12, 28, bytes.length - 1]) {
      const copy = Buffer.from(bytes);
      copy[at]! ^= 1;
      expect(() => decrypt(old, `k1:${copy.toString("base64")}`, "conn_a")).toThrow(DecryptError);
    }
    expect(() => decrypt(old, `k1:${bytes.subarray(0, 20).toString("base64")}`, "conn_a")).toThrow(/truncated/);
    expect(() => decrypt(old, "no-prefix", "conn_a")).toThrow(DecryptError);
  });

  it("opens a blob encrypted before the cipher moved to @nubabel/contracts, and refuses its tag cut short", () => {
    const keyring = parse(`k1:${Buffer.alloc(32, 7).toString("base64")}`);
    const earlier = "k1:28p36w6eYpnNNvkzJD1wjp147FgaixlG7xHA6h+jtZD35H96jMtlX+M=";
    expect(decrypt(keyring, earlier, "conn_a")).toBe("héllo secret");
    const bytes = Buffer.from(earlier.slice(3), "base64");
    // iv (12) | tag cut to 4 | ciphertext: read as the format lays it out, it cannot authenticate.
    const cut = Buffer.concat([bytes.subarray(0, 16), bytes.subarray(28)]);
    expect(() => decrypt(keyring, `k1:${cut.toString("base64")}`, "conn_a")).toThrow(DecryptError);
  });

  it("refuses a blob opened with another AAD (swapped between rows)", () => {
    const blob = encrypt(old, "payload", "conn_a");
    expect(() => decrypt(old, blob, "conn_b")).toThrow(DecryptError);
  });

  it("names an unknown key id", () => {
    const blob = encrypt(rotated, "payload");
    expect(() => decrypt(old, blob)).toThrow(UnknownKeyError);
    expect(() => decrypt(old, blob)).toThrow(/"k2".*known: k1/);
  });

  it("refuses a different key under the same id", () => {
    const blob = encrypt(old, "payload");
    expect(() => decrypt(parse(`k1:${generateKey()}`), blob)).toThrow(DecryptError);
  });

  it("rotates old blobs to the current key and leaves current ones alone", () => {
    const blob = encrypt(old, "payload", "conn_a");
    expect(needsRotation(rotated, blob)).toBe(true);
    expect(decrypt(rotated, blob, "conn_a")).toBe("payload");
    const next = rotate(rotated, blob, "conn_a");
    expect(keyIdOf(next)).toBe("k2");
    expect(needsRotation(rotated, next)).toBe(false);
    expect(rotate(rotated, next, "conn_a")).toBe(next);
    expect(decrypt(parse(`k2:${k2}`), next, "conn_a")).toBe("payload");
  });
});

describe("SealedCredentials", () => {
  it("binds credentials to their connection id", () => {
    const blob = seal(old, "conn_a", { NOTION_TOKEN: "ntn_secret" });
    expect(open(old, "conn_a", blob)).toEqual({ NOTION_TOKEN: "ntn_secret" });
    expect(() => open(old, "conn_b", blob)).toThrow(DecryptError);
    expect(() => open(rotated, "conn_a", reseal(rotated, "conn_b", blob))).toThrow(DecryptError);
  });

  it("rotateAll re-encrypts every row without clobbering concurrent updates", async () => {
    const rows = new Map<string, string>([
      ["conn_a", seal(old, "conn_a", { A: "1" })],
      ["conn_b", seal(old, "conn_b", { B: "2" })],
      ["conn_c", seal(rotated, "conn_c", { C: "3" })],
    ]);
    const concurrent = seal(rotated, "conn_b", { B: "new" });
    const audited: AuditRecord[] = [];
    const report = await rotateAll(rotated, {
      listSealed: () => [...rows].map(([id, sealed]) => ({ id, organizationId: id === "conn_c" ? "org_b" : "org_a", sealed })),
      replace: async (id, previous, next) => {
        if (id === "conn_b") rows.set(id, concurrent); // a PATCH lands mid-rotation
        if (rows.get(id) !== previous) return false;
        rows.set(id, next);
        return true;
      },
    }, { record: async (entry) => void audited.push(entry) });
    expect(report).toEqual({ rotated: 1, alreadyCurrent: 1, skipped: 1 });
    // One entry per organization touched; org_b's row was already current.
    expect(audited).toEqual([
      { organizationId: "org_a", kind: "key_rotation", actor: "operator", action: "rotate", status: "ok", detail: "1 connection re-encrypted under key k2, 1 skipped (changed meanwhile)" },
    ]);
    const onlyNew = parse(`k2:${k2}`);
    expect(open(onlyNew, "conn_a", rows.get("conn_a")!)).toEqual({ A: "1" });
    expect(open(onlyNew, "conn_b", rows.get("conn_b")!)).toEqual({ B: "new" });
    expect(open(onlyNew, "conn_c", rows.get("conn_c")!)).toEqual({ C: "3" });
  });
});
