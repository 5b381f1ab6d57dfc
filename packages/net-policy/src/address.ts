import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

// ipaddr.js names the special-purpose ranges (RFC 6890 and successors); we only word them. Any range
// without a wording here, including ones a later ipaddr.js adds, is refused with its name.
const V4: Record<string, string> = {
  unspecified: "an unspecified (this-network) address",
  broadcast: "a broadcast address",
  multicast: "a multicast address",
  linkLocal: "a link-local address (169.254.0.0/16, where cloud metadata lives)",
  loopback: "a loopback address",
  carrierGradeNat: "a carrier-grade NAT address (100.64.0.0/10)",
  reserved: "a reserved address (IETF protocol, documentation, benchmarking or future use)",
  as112: "an AS112 DNS sink address",
  amt: "an AMT relay address",
};
// ipaddr.js says "private" for all three RFC 1918 blocks; the first octet tells which one.
const PRIVATE_V4: Record<number, string> = { 10: "10.0.0.0/8", 172: "172.16.0.0/12", 192: "192.168.0.0/16" };
const V6: Record<string, string> = {
  unspecified: "an unspecified address",
  loopback: "a loopback address",
  linkLocal: "a link-local address (fe80::/10)",
  multicast: "a multicast address",
  uniqueLocal: "a private (unique local) address (fc00::/7)",
  deprecatedSiteLocal: "a site-local address (fec0::/10)",
  discard: "a discard-only address (100::/64)",
  rfc6145: "an IPv4-translated address (::ffff:0:0:0/96)",
  rfc6052: "a local-use NAT64 address (64:ff9b:1::/48)",
  "6to4": "a 6to4 address (2002::/16), a tunnel to an IPv4 address",
  teredo: "a Teredo address (2001::/32), a tunnel to an IPv4 address",
  benchmarking: "a benchmarking address (2001:2::/48)",
  reserved: "a reserved or documentation address",
};

// The well-known NAT64 prefix carries the IPv4 address in its last 32 bits (RFC 6052 §2.2). An
// IPv6-only host behind DNS64 sees every public name this way, so it is judged, not refused.
const NAT64 = ipaddr.IPv6.parseCIDR("64:ff9b::/96");
// IPv4-compatible addresses (::a.b.c.d, deprecated by RFC 4291) are "unicast" to ipaddr.js; nothing
// legitimate uses them, so they are refused rather than trusted to route as plain IPv6.
const V4_COMPATIBLE = ipaddr.IPv6.parseCIDR("::/96");

/**
 * Why `address` (an IP literal, optionally with an IPv6 zone id) may not be connected to, or
 * undefined when it is plain public unicast. IPv4-mapped (`::ffff:a.b.c.d`) and NAT64
 * (`64:ff9b::a.b.c.d`) addresses are judged by the IPv4 address inside them, so
 * `::ffff:127.0.0.1` is loopback; other tunnelling forms (6to4, Teredo) are refused outright.
 */
export function classifyAddress(address: string): string | undefined {
  const text = canonicalAddress(address);
  if (text === undefined) return "not an IP address";
  const ip = ipaddr.process(text);
  return ip.kind() === "ipv4" ? classifyV4(ip as ipaddr.IPv4) : classifyV6(ip as ipaddr.IPv6);
}

/**
 * The address as ipaddr.js should read it. ipaddr.js reads the dotted spelling `::a.b.c.d` as
 * `::ffff:a.b.c.d` (IPv4-mapped), but the socket layer dials `::a.b.c.d` as IPv4-compatible
 * `::/96`, and libuv prints such resolver answers dotted; so IPv6 text is first re-spelled in hex
 * by the URL parser. The zone id is dropped: it names an interface, not a range.
 */
export function canonicalAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  try {
    return new URL(`http://[${address.replace(/%.*$/, "")}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

function classifyV4(ip: ipaddr.IPv4): string | undefined {
  const range: string = ip.range();
  if (range === "unicast") return undefined;
  if (range === "private") return `a private address (${PRIVATE_V4[ip.octets[0]!]})`;
  return V4[range] ?? `a special-purpose address (${range})`;
}

function classifyV6(ip: ipaddr.IPv6): string | undefined {
  const range: string = ip.range();
  if (ip.match(NAT64)) {
    const inner = ipaddr.fromByteArray(ip.toByteArray().slice(12)) as ipaddr.IPv4;
    const why = classifyV4(inner);
    return why && `a NAT64 address of ${inner.toString()}, ${why}`;
  }
  if (range === "unicast") return ip.match(V4_COMPATIBLE) ? "an IPv4-compatible address (::/96, deprecated)" : undefined;
  return V6[range] ?? `a special-purpose address (${range})`;
}
