import { hkdfSync } from "node:crypto";
import { Sealing } from "@nubabel/contracts";

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
    const { iv, body, tag } = Sealing.seal(this.key, token);
    return `s1.${iv.toString("base64url")}.${body.toString("base64url")}.${tag.toString("base64url")}`;
  }

  /**
   * The token, or undefined when it was sealed under another secret (then there is none to call
   * back with) or does not authenticate, a cut-short tag included.
   */
  open(value: string): string | undefined {
    const [version, iv, body, tag] = value.split(".");
    if (version !== "s1" || !iv || !body || !tag) return undefined;
    try {
      return Sealing.open(this.key, { iv: Buffer.from(iv, "base64url"), body: Buffer.from(body, "base64url"), tag: Buffer.from(tag, "base64url") });
    } catch {
      return undefined;
    }
  }
}
