import { BlockList, isIP } from "node:net";

/**
 * Address ranges a custom MCP server may not live in: anything that reaches Nubabel's own host,
 * its private network, or cloud metadata endpoints. Each range carries the reason a 400 shows.
 */
const V4: Array<[string, number, string]> = [
  ["0.0.0.0", 8, "an unspecified (this-network) address"],
  ["10.0.0.0", 8, "a private address (10.0.0.0/8)"],
  ["100.64.0.0", 10, "a carrier-grade NAT address (100.64.0.0/10)"],
  ["127.0.0.0", 8, "a loopback address"],
  ["169.254.0.0", 16, "a link-local address (169.254.0.0/16, where cloud metadata lives)"],
  ["172.16.0.0", 12, "a private address (172.16.0.0/12)"],
  ["192.0.0.0", 24, "an IETF protocol address (192.0.0.0/24)"],
  ["192.168.0.0", 16, "a private address (192.168.0.0/16)"],
  ["198.18.0.0", 15, "a benchmarking address (198.18.0.0/15)"],
  ["224.0.0.0", 4, "a multicast address"],
  ["240.0.0.0", 4, "a reserved or broadcast address"],
];
const V6: Array<[string, number, string]> = [
  ["::", 128, "an unspecified address"],
  ["::1", 128, "a loopback address"],
  ["fc00::", 7, "a private (unique local) address (fc00::/7)"],
  ["fe80::", 10, "a link-local address (fe80::/10)"],
  ["fec0::", 10, "a site-local address (fec0::/10)"],
  ["ff00::", 8, "a multicast address"],
];

const lists = [...V4.map(([a, p, why]) => [a, p, why, "ipv4"] as const), ...V6.map(([a, p, why]) => [a, p, why, "ipv6"] as const)].map(
  ([address, prefix, why, family]) => {
    const list = new BlockList();
    list.addSubnet(address, prefix, family);
    return { list, why, family };
  },
);

/**
 * Why `address` (an IP literal) is refused, or undefined when it is a public address. IPv6 forms
 * that embed an IPv4 address (mapped `::ffff:a.b.c.d`, compatible, NAT64 `64:ff9b::/96`) are judged
 * by the embedded address, so `[::ffff:127.0.0.1]` is loopback too.
 */
export function classifyAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return "not an IP address";
  if (family === 6) {
    const embedded = embeddedIpv4(address);
    if (embedded) return classifyAddress(embedded);
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  return lists.find((l) => l.family === type && l.list.check(address, type))?.why;
}

/** The IPv4 address inside an IPv4-mapped, IPv4-compatible or NAT64 IPv6 address. */
function embeddedIpv4(address: string): string | undefined {
  const words = expand(address);
  if (!words) return undefined;
  const head = words.slice(0, 6);
  const mapped = head.slice(0, 5).every((w) => w === 0) && (head[5] === 0xffff || head[5] === 0);
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && head.slice(2).every((w) => w === 0);
  // "::" and "::1" are all-zero-headed too, but are IPv6's own unspecified and loopback addresses.
  if (!(mapped || nat64) || (head[5] === 0 && !nat64 && words[6] === 0)) return undefined;
  const [hi, lo] = [words[6]!, words[7]!];
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join(".");
}

/** The eight 16-bit words of an IPv6 literal (zone ids dropped, dotted tails folded in). */
function expand(address: string): number[] | undefined {
  let text = address.split("%")[0]!.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const b = dotted[1]!.split(".").map(Number);
    text = text.slice(0, -dotted[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [left, right] = text.split("::") as [string, string | undefined];
  const part = (s: string) => (s === "" ? [] : s.split(":").map((w) => parseInt(w, 16)));
  const l = part(left);
  const r = right === undefined ? [] : part(right);
  const fill = right === undefined ? 0 : 8 - l.length - r.length;
  const words = [...l, ...new Array<number>(fill).fill(0), ...r];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : undefined;
}
