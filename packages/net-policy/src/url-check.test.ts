import { describe, expect, it } from "vitest";
import { checkUrl } from "./url-check.js";

const resolveTo =
  (...addresses: string[]) =>
  async () =>
    addresses;

describe("checkUrl", () => {
  it.each([
    ["ftp://example.com/mcp", /http or https/],
    ["file:///etc/passwd", /http or https/],
    ["not a url", /not a valid URL/],
    ["https://user:pw@example.com/mcp", /user or password/],
    ["http://localhost:8080/mcp", /loopback/],
    ["http://api.localhost/mcp", /loopback/],
    ["http://127.0.0.1/mcp", /loopback/],
    ["http://2130706433/mcp", /loopback/],
    ["http://0x7f.1/mcp", /loopback/],
    ["http://[::1]/mcp", /loopback/],
    ["http://[::ffff:127.0.0.1]/mcp", /loopback/],
    ["http://[::ffff:a9fe:a9fe]/mcp", /link-local/],
    ["http://[64:ff9b::10.0.0.1]/mcp", /private/],
    ["http://0.0.0.0/mcp", /unspecified/],
    ["http://[::]/mcp", /unspecified/],
    ["http://10.1.2.3/mcp", /private/],
    ["http://172.16.0.1/mcp", /private/],
    ["http://172.31.255.255/mcp", /private/],
    ["http://192.168.1.1/mcp", /private/],
    ["http://169.254.169.254/latest/meta-data", /link-local/],
    ["http://100.64.0.1/mcp", /carrier-grade NAT/],
    ["http://[fd00::1]/mcp", /unique local/],
    ["http://[fe80::1]/mcp", /link-local/],
    ["http://[fe80::1%25eth0]/mcp", /not a valid URL/],
    ["http://[64:ff9b::a9fe:a9fe]/latest/meta-data", /NAT64 address of 169\.254\.169\.254, a link-local/],
    ["http://[::127.0.0.1]/mcp", /IPv4-compatible/],
    ["http://[2002:7f00:1::1]/mcp", /6to4/],
    ["http://255.255.255.255/mcp", /broadcast/],
    ["http://192.0.2.1/mcp", /reserved/],
    ["http://198.18.0.1/mcp", /reserved/],
  ])("refuses %s", async (url, why) => {
    const check = await checkUrl(url, { allowPrivate: false, resolve: resolveTo("93.184.215.14") });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(why);
  });

  it.each([
    "https://mcp.example.com/mcp",
    "http://172.32.0.1/mcp",
    "http://[2606:4700::1111]/mcp",
    "https://8.8.8.8/",
    "http://93.184.216.34/",
    "http://[64:ff9b::93.184.216.34]/",
  ])(
    "accepts public %s",
    async (url) => {
      expect((await checkUrl(url, { allowPrivate: false, resolve: resolveTo("93.184.215.14") })).ok).toBe(true);
    },
  );

  it("refuses a name that resolves to a private address, even if only one of its addresses does", async () => {
    const check = await checkUrl("https://internal.example.com/mcp", {
      allowPrivate: false,
      resolve: resolveTo("93.184.215.14", "10.0.0.5"),
    });
    expect(check).toEqual({ ok: false, reason: expect.stringMatching(/resolves to 10\.0\.0\.5, a private address/) });
  });

  it("refuses a name that does not resolve", async () => {
    const check = await checkUrl("https://nowhere.invalid/mcp", {
      allowPrivate: false,
      resolve: async () => {
        throw new Error("ENOTFOUND");
      },
    });
    expect(check).toEqual({ ok: false, reason: "host nowhere.invalid does not resolve" });
  });

  it("resolves names through the system resolver by default", async () => {
    const check = await checkUrl("http://localhost.:3000/mcp", { allowPrivate: false });
    expect(check.ok).toBe(false);
  });

  it("lets the operator allow private addresses, but never other schemes", async () => {
    expect((await checkUrl("http://127.0.0.1:9/mcp", { allowPrivate: true })).ok).toBe(true);
    expect((await checkUrl("gopher://127.0.0.1/", { allowPrivate: true })).ok).toBe(false);
  });
});

describe("checkUrl with an operator allowlist", () => {
  const allow = ["mcp.internal", "10.1.0.0/16", "fd00:1::/32", "192.168.1.20", "localhost"];

  it.each([
    ["a listed name, whatever it resolves to", "http://MCP.Internal:8080/mcp", resolveTo("10.9.9.9")],
    ["an IP literal inside a listed CIDR", "http://10.1.2.3/mcp", resolveTo()],
    ["an IPv6 literal inside a listed CIDR", "http://[fd00:1::5]/mcp", resolveTo()],
    ["a listed single IP", "http://192.168.1.20/mcp", resolveTo()],
    ["the IPv4-mapped form of a listed IP", "http://[::ffff:192.168.1.20]/mcp", resolveTo()],
    ["a name whose every address is listed", "https://crm.corp/mcp", resolveTo("10.1.0.7", "10.1.200.1")],
    ["a name whose addresses are listed or public", "https://crm.corp/mcp", resolveTo("10.1.0.7", "93.184.216.34")],
    ["localhost, when listed by name", "http://localhost:3000/mcp", resolveTo()],
  ])("passes %s", async (_what, url, resolve) => {
    expect((await checkUrl(url, { allow, resolve })).ok).toBe(true);
  });

  it.each([
    ["an address next to a listed CIDR", "http://10.2.0.1/mcp", resolveTo(), /10\.0\.0\.0\/8/],
    ["the neighbour of a listed single IP", "http://192.168.1.21/mcp", resolveTo(), /private/],
    ["a name with one address outside the list", "https://crm.corp/mcp", resolveTo("10.1.0.7", "127.0.0.1"), /resolves to 127\.0\.0\.1, a loopback/],
    ["a sub-domain of a listed name", "http://api.mcp.internal/mcp", resolveTo("10.9.9.9"), /private/],
    ["metadata, when only other ranges are listed", "http://169.254.169.254/", resolveTo(), /link-local/],
    ["api.localhost, when only localhost is listed", "http://api.localhost/mcp", resolveTo(), /loopback name/],
  ])("refuses %s", async (_what, url, resolve, why) => {
    const check = await checkUrl(url, { allow, resolve });
    expect(check).toEqual({ ok: false, reason: expect.stringMatching(why) });
  });

  it("never lets the allowlist admit another scheme or embedded credentials", async () => {
    expect((await checkUrl("ftp://mcp.internal/", { allow })).ok).toBe(false);
    expect((await checkUrl("http://u:p@mcp.internal/", { allow })).ok).toBe(false);
  });

  it("throws on an entry that is not a name, CIDR or IP", async () => {
    await expect(checkUrl("http://10.1.2.3/", { allow: ["10.1.0.0/33"] })).rejects.toThrow(/"10\.1\.0\.0\/33"/);
  });
});
