import { mkdtemp, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { decrypt, encrypt } from "./cipher.js";
import { developmentKeyring } from "./dev-key.js";
import { KeyringInvalidError } from "./errors.js";

describe("developmentKeyring", () => {
  it("creates a key once, private to the owner, and returns the same key afterwards", async () => {
    const dir = path.join(await mkdtemp(path.join(tmpdir(), "devkey-")), "data");
    const first = await developmentKeyring(dir);
    expect(first.created).toBe(true);
    expect((await stat(first.file)).mode & 0o777).toBe(0o600);
    const second = await developmentKeyring(dir);
    expect(second.created).toBe(false);
    expect(decrypt(second.keyring, encrypt(first.keyring, "x"))).toBe("x");
  });

  it("names the file when its content is not a keyring", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "devkey-"));
    await writeFile(path.join(dir, "encryption-key"), "garbage");
    const error = await developmentKeyring(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeyringInvalidError);
    expect((error as Error).message).toContain(path.join(dir, "encryption-key"));
  });
});
