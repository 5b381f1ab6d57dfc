import { describe, expect, it } from "vitest";
import { checkCustomUrl, classifyAddress } from "./url-policy.js";

const resolveTo =
  (...addresses: string[]) =>
  async () =>
    addresses;

describe("checkCustomUrl", () => {
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
  ])("refuses %s", async (url, why) => {
    const check = await checkCustomUrl(url, { allowPrivate: false, resolve: resolveTo("93.184.215.14") });
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.reason).toMatch(why);
  });

  it.each(["https://mcp.example.com/mcp", "http://172.32.0.1/mcp", "http://[2606:4700::1111]/mcp", "https://8.8.8.8/"])(
    "accepts public %s",
    async (url) => {
      expect((await checkCustomUrl(url, { allowPrivate: false, resolve: resolveTo("93.184.215.14") })).ok).toBe(true);
    },
  );

  it("refuses a name that resolves to a private address, even if only one of its addresses does", async () => {
    const check = await checkCustomUrl("https://internal.example.com/mcp", {
      allowPrivate: false,
      resolve: resolveTo("93.184.215.14", "10.0.0.5"),
    });
    expect(check).toEqual({ ok: false, reason: expect.stringMatching(/resolves to 10\.0\.0\.5, a private address/) });
  });

  it("refuses a name that does not resolve", async () => {
    const check = await checkCustomUrl("https://nowhere.invalid/mcp", {
      allowPrivate: false,
      resolve: async () => {
        throw new Error("ENOTFOUND");
      },
    });
    expect(check).toEqual({ ok: false, reason: "host nowhere.invalid does not resolve" });
  });

  it("resolves names through the system resolver by default", async () => {
    const check = await checkCustomUrl("http://localhost.:3000/mcp", { allowPrivate: false });
    expect(check.ok).toBe(false);
  });

  it("lets the operator allow private addresses, but never other schemes", async () => {
    expect((await checkCustomUrl("http://127.0.0.1:9/mcp", { allowPrivate: true })).ok).toBe(true);
    expect((await checkCustomUrl("gopher://127.0.0.1/", { allowPrivate: true })).ok).toBe(false);
  });
});

describe("classifyAddress", () => {
  it("treats IPv6's own loopback and unspecified addresses as such, not as embedded IPv4", () => {
    expect(classifyAddress("::1")).toMatch(/loopback/);
    expect(classifyAddress("::")).toMatch(/unspecified/);
    expect(classifyAddress("::ffff:8.8.8.8")).toBeUndefined();
    expect(classifyAddress("1.1.1.1")).toBeUndefined();
  });
});
