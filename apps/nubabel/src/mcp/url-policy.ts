import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { classifyAddress } from "./address-ranges.js";

export { classifyAddress } from "./address-ranges.js";

/** Resolves a host name to every address it has; injectable so tests need no DNS server. */
export type Resolve = (hostname: string) => Promise<string[]>;

export interface UrlPolicyOptions {
  /** The operator's escape hatch: allow servers on private networks (not for multi-tenant hosts). */
  allowPrivate: boolean;
  resolve?: Resolve;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

const systemResolve: Resolve = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

/**
 * May an organization point a `custom` connection at `raw`? Only http(s), no user:password in the
 * URL, and, unless `allowPrivate`, no host that is or resolves to loopback, private, link-local,
 * CGNAT or unspecified addresses. Every resolved address is checked, not just the first.
 *
 * This check runs when the connection is saved. DNS can answer differently later (rebinding), so a
 * passing check is not trusted at connect time: the pool connects to custom servers through
 * `guardedFetch`, which vets the address each socket actually connects to.
 */
export async function checkCustomUrl(raw: string, options: UrlPolicyOptions): Promise<UrlCheck> {
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
  if (options.allowPrivate) return { ok: true, url };
  const host = hostOf(url);
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
    const why = classifyAddress(address);
    if (why) return { ok: false, reason: `host ${host} resolves to ${address}, ${why}` };
  }
  return { ok: true, url };
}

/** The URL's host without IPv6 brackets (the WHATWG parser has already normalized 0x7f.1 forms). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}
