import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { classifyAddress } from "./address.js";
import { isAllowed } from "./allow-list.js";

/** Resolves a host name to every address it has; injectable so tests need no DNS server. */
export type Resolve = (hostname: string) => Promise<string[]>;

export interface UrlPolicyOptions {
  /** Allow every private, loopback and link-local destination (single-tenant hosts only). */
  allowPrivate?: boolean;
  /**
   * The operator's allowlist (see `parseAllowList`): a URL passes if its host is a listed name, or
   * if every address it is or resolves to is public or inside a listed CIDR or IP.
   */
  allow?: readonly string[];
  resolve?: Resolve;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const systemResolve: Resolve = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/**
 * May a server-side request go to `raw`? Only http(s), no user:password in the URL, and, unless
 * `allowPrivate` or the allowlist says otherwise, no host that is or resolves to a loopback, private,
 * link-local, CGNAT, unspecified or other special-purpose address (see `classifyAddress`). Every
 * resolved address is checked, not just the first. `localhost` names are refused without asking DNS
 * unless the name itself is listed.
 *
 * A passing check is not proof for later: DNS can answer differently when the request is made
 * (rebinding), so whoever connects must vet the address each socket actually reaches as well.
 */
export async function checkUrl(raw: string, options: UrlPolicyOptions = {}): Promise<UrlCheck> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: "is not a valid URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return { ok: false, reason: `must use http or https, not ${url.protocol.replace(/:$/, "")}` };
  }
  if (url.username || url.password) {
    return { ok: false, reason: "must not embed a user or password; send credentials as headers" };
  }
  const allow = options.allow ?? [];
  const host = hostOf(url);
  if (options.allowPrivate || isAllowed(host, allow)) return { ok: true, url };
  if (host === "localhost" || host.endsWith(".localhost")) {
    return { ok: false, reason: `host ${host} is a loopback name` };
  }
  if (isIP(host)) {
    const why = classifyAddress(host);
    return why ? { ok: false, reason: `host ${host} is ${why}` } : { ok: true, url };
  }
  let addresses: string[];
  try {
    addresses = await (options.resolve ?? systemResolve)(host);
  } catch {
    return { ok: false, reason: `host ${host} does not resolve` };
  }
  if (addresses.length === 0) return { ok: false, reason: `host ${host} does not resolve` };
  for (const address of addresses) {
    const why = isAllowed(address, allow) ? undefined : classifyAddress(address);
    if (why) return { ok: false, reason: `host ${host} resolves to ${address}, ${why}` };
  }
  return { ok: true, url };
}

/** The URL's host without IPv6 brackets (the WHATWG parser has already normalized 0x7f.1 forms). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}
