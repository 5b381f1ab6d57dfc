import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * The capability token a binding keeps, sealed (AES-256-GCM) with a key derived from the shared
 * secret, so someone reading Redis gets no token to replay against Nubabel. Only the sidecar,
 * which must call back with it, can open it.
 */
export class TokenSeal {
  private readonly key: Buffer;

  constructor(sharedSecret: string) {
    const secret = Buffer.from(sharedSecret.replace(/^whsec_/, ""), "base64");
    this.key = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), "nubabel sidecar binding token v1", 32));
  }

  seal(token: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const sealed = Buffer.concat([cipher.update(token, "utf8"), cipher.final()]);
    return `s1.${iv.toString("base64url")}.${sealed.toString("base64url")}.${cipher.getAuthTag().toString("base64url")}`;
  }

  /** The token, or undefined when it was sealed under another secret (then there is none to call back with). */
  open(value: string): string | undefined {
    const [version, iv, sealed, tag] = value.split(".");
    if (version !== "s1" || !iv || !sealed || !tag) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(sealed, "base64url")), decipher.final()]).toString("utf8");
    } catch {
      return undefined;
    }
  }
}
