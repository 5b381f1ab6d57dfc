import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

/**
 * What a capability token grants: acting for one Nubabel session of one organization until `exp`.
 * `aud` keeps a token minted for one use (sidecar callbacks, a browser's SSE stream) from
 * serving another.
 */
export const Capability = z.object({
  v: z.literal(1),
  aud: z.enum(["callback", "stream"]),
  sid: z.string(),
  org: z.string(),
  /**
   * The id of the API key a stream token was made with: the token, and a stream opened with it,
   * stop working once that key is revoked. Required of stream tokens; absent from callback tokens.
   */
  kid: z.string().optional(),
  /** Expiry, seconds since the epoch. */
  exp: z.number().int(),
});
export type Capability = z.infer<typeof Capability>;

export class CapabilityError extends Error {
  override readonly name = "CapabilityError";
}

const b64 = (buf: Buffer | string) => Buffer.from(buf).toString("base64url");
const mac = (secret: string, data: string) => createHmac("sha256", secret).update(data).digest();

/** Mints a token: `cap1.<payload>.<hmac>`. Only the holder of `secret` (Nubabel) can mint or check one. */
export function issue(
  secret: string,
  grant: { aud: Capability["aud"]; sessionId: string; organizationId: string; keyId?: string; ttlSeconds: number },
  now = Date.now(),
): string {
  const payload: Capability = {
    v: 1,
    aud: grant.aud,
    sid: grant.sessionId,
    org: grant.organizationId,
    ...(grant.keyId ? { kid: grant.keyId } : {}),
    exp: Math.floor(now / 1000) + grant.ttlSeconds,
  };
  const body = b64(JSON.stringify(payload));
  return `cap1.${body}.${b64(mac(secret, `cap1.${body}`))}`;
}

/** Checks integrity, audience and expiry; throws `CapabilityError` saying which failed. */
export function check(secret: string, token: string, aud: Capability["aud"], now = Date.now()): Capability {
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== "cap1") throw new CapabilityError("malformed capability token");
  const [prefix, body, sig] = parts as [string, string, string];
  const expected = mac(secret, `${prefix}.${body}`);
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new CapabilityError("capability token signature is invalid");
  }
  let parsed: Capability;
  try {
    parsed = Capability.parse(JSON.parse(Buffer.from(body, "base64url").toString("utf8")));
  } catch {
    throw new CapabilityError("malformed capability token");
  }
  if (parsed.aud !== aud) throw new CapabilityError(`capability token is not for ${aud}`);
  if (parsed.exp * 1000 <= now) throw new CapabilityError("capability token has expired");
  return parsed;
}
