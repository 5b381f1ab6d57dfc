import { describe, expect, it } from "vitest";
import { classifyAddress } from "./address.js";

describe("classifyAddress", () => {
  it("treats IPv6's own loopback and unspecified addresses as such, not as embedded IPv4", () => {
    expect(classifyAddress("::1")).toMatch(/loopback/);
    expect(classifyAddress("::")).toMatch(/unspecified/);
    expect(classifyAddress("::ffff:8.8.8.8")).toBeUndefined();
    expect(classifyAddress("1.1.1.1")).toBeUndefined();
  });

  it.each([
    ["93.184.216.34"],
    ["8.8.8.8"],
    ["172.32.0.1"],
    ["2606:4700::1111"],
    ["::ffff:93.184.216.34"],
    ["64:ff9b::5db8:d822"],
  ])("lets public unicast %s through", (address) => {
    expect(classifyAddress(address)).toBeUndefined();
  });

  it.each([
    ["0.0.0.0", "an unspecified (this-network) address"],
    ["127.0.0.1", "a loopback address"],
    ["127.255.255.254", "a loopback address"],
    ["10.0.0.5", "a private address (10.0.0.0/8)"],
    ["172.16.0.1", "a private address (172.16.0.0/12)"],
    ["192.168.1.1", "a private address (192.168.0.0/16)"],
    ["169.254.169.254", "a link-local address (169.254.0.0/16, where cloud metadata lives)"],
    ["100.64.0.1", "a carrier-grade NAT address (100.64.0.0/10)"],
    ["224.0.0.1", "a multicast address"],
    ["255.255.255.255", "a broadcast address"],
    ["192.0.0.8", "a reserved address (IETF protocol, documentation, benchmarking or future use)"],
    ["198.18.0.1", "a reserved address (IETF protocol, documentation, benchmarking or future use)"],
    ["240.0.0.1", "a reserved address (IETF protocol, documentation, benchmarking or future use)"],
    ["192.175.48.1", "an AS112 DNS sink address"],
    ["::ffff:127.0.0.1", "a loopback address"],
    ["::ffff:7f00:1", "a loopback address"],
    ["::ffff:a9fe:a9fe", "a link-local address (169.254.0.0/16, where cloud metadata lives)"],
    ["64:ff9b::a9fe:a9fe", "a NAT64 address of 169.254.169.254, a link-local address (169.254.0.0/16, where cloud metadata lives)"],
    ["64:ff9b::10.0.0.1", "a NAT64 address of 10.0.0.1, a private address (10.0.0.0/8)"],
    ["64:ff9b:1::a9fe:a9fe", "a local-use NAT64 address (64:ff9b:1::/48)"],
    ["::127.0.0.1", "an IPv4-compatible address (::/96, deprecated)"],
    ["::7f00:1", "an IPv4-compatible address (::/96, deprecated)"],
    ["::8.8.8.8", "an IPv4-compatible address (::/96, deprecated)"],
    ["::ffff:0:7f00:1", "an IPv4-translated address (::ffff:0:0:0/96)"],
    ["fe80::1", "a link-local address (fe80::/10)"],
    ["fe80::1%eth0", "a link-local address (fe80::/10)"],
    ["fd00::1", "a private (unique local) address (fc00::/7)"],
    ["fec0::1", "a site-local address (fec0::/10)"],
    ["ff02::1", "a multicast address"],
    ["2002:a9fe:a9fe::1", "a 6to4 address (2002::/16), a tunnel to an IPv4 address"],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", "a Teredo address (2001::/32), a tunnel to an IPv4 address"],
    ["2001:2::1", "a benchmarking address (2001:2::/48)"],
    ["2001:db8::1", "a reserved or documentation address"],
    ["100::1", "a discard-only address (100::/64)"],
    ["5f00::1", "a special-purpose address (segmentRouting)"],
  ])("refuses %s as %s", (address, why) => {
    expect(classifyAddress(address)).toBe(why);
  });

  it("refuses what is not a strict IP literal, including forms only a URL parser would read", () => {
    expect(classifyAddress("example.com")).toBe("not an IP address");
    expect(classifyAddress("0x7f.1")).toBe("not an IP address");
    expect(classifyAddress("2130706433")).toBe("not an IP address");
    expect(classifyAddress("[::1]")).toBe("not an IP address");
  });
});
