import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { KeyringInvalidError } from "./errors.js";
import { generateKey } from "./keyring.js";
import { resolveKeyring } from "./keyring-source.js";

describe("resolveKeyring", () => {
  it("uses the configured key", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "ks-"));
    const { keyring, warning } = await resolveKeyring({ value: `k9:${generateKey()}`, embedded: true, dataDir });
    expect(keyring.current).toBe("k9");
    expect(warning).toBeUndefined();
  });

  it("keeps a development key in the data folder on the embedded default, with a warning", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "ks-"));
    const first = await resolveKeyring({ value: undefined, embedded: true, dataDir });
    expect(first.warning).toMatch(/NUBABEL_ENCRYPTION_KEY is not set.*just created/);
    const again = await resolveKeyring({ value: "", embedded: true, dataDir });
    expect(again.keyring.keys.get(again.keyring.current)).toEqual(first.keyring.keys.get(first.keyring.current));
  });

  it("stops a non-embedded start without a key, saying how to make one", async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), "ks-"));
    const error = await resolveKeyring({ value: undefined, embedded: false, dataDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyringInvalidError);
    expect((error as Error).message).toMatch(/^NUBABEL_ENCRYPTION_KEY: is required .*openssl rand -base64 32/);
  });
});
