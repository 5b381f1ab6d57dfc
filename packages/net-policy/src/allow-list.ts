import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { canonicalAddress } from "./address.js";

type Entry = { name: string } | { range: [ipaddr.IPv4 | ipaddr.IPv6, number] };

// What the WHATWG URL parser leaves of a domain: lower-case letters, digits, hyphens, underscores
// and dots (internationalized names are already punycode by then).
const NAME = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/;

/**
 * Reads an operator's allowlist from an environment variable: comma-separated host names (matched
 * exactly, case-insensitively), CIDRs (`10.1.0.0/16`, `fd00::/8`) and single IP addresses; blanks
 * are skipped. Names come back as a URL's hostname would spell them (lower case, punycode). Throws
 * an Error naming the first entry that is none of these (wildcards like `*.corp` are not supported).
 */
export function parseAllowList(text: string): string[] {
  return text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((entry) => {
      const parsed = parseEntry(entry);
      return "name" in parsed ? parsed.name : entry;
    });
}

/**
 * Is `host` (a URL's hostname without brackets, or an IP address) on the allowlist: a listed name,
 * or an address inside a listed CIDR or equal to a listed IP? IPv4-mapped IPv6 addresses count as
 * their IPv4 address. Names are never resolved here: a name matches only a name entry.
 */
export function isAllowed(host: string, allow: readonly string[]): boolean {
  if (allow.length === 0) return false;
  const text = canonicalAddress(host);
  const address = text === undefined ? undefined : ipaddr.process(text);
  return allow.map(parseEntry).some((entry) => {
    if ("name" in entry) return address === undefined && entry.name === host.toLowerCase();
    return address !== undefined && address.kind() === entry.range[0].kind() && address.match(entry.range);
  });
}

function parseEntry(entry: string): Entry {
  const bad = () => new Error(`allowlist entry "${entry}" is not a host name, a CIDR (10.1.0.0/16) or an IP address`);
  const [head = "", prefix] = entry.split("/");
  const address = canonicalAddress(head);
  if (address !== undefined) {
    const ip = prefix === undefined ? ipaddr.process(address) : ipaddr.parse(address);
    const max = ip.kind() === "ipv4" ? 32 : 128;
    if (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max)) throw bad();
    return { range: [ip, prefix === undefined ? max : Number(prefix)] };
  }
  if (prefix !== undefined) throw bad();
  let url: URL;
  try {
    url = new URL(`http://${entry}/`);
  } catch {
    throw bad();
  }
  const name = url.hostname;
  // Anything the parser read as more than a host (user@, :port, ?query) or as an IP (1.2.3, 0x7f.1).
  if (url.host !== name || url.username || url.href !== `http://${name}/` || isIP(name) || !NAME.test(name)) throw bad();
  return { name };
}
