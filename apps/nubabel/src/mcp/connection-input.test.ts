import { describe, expect, it } from "vitest";
import { builtin } from "./catalog.js";
import { validateConnection, type ConnectionInput } from "./connection-input.js";
import { McpConnectionInvalidError } from "./errors.js";

const publicDns = async () => ["93.184.215.14"];
const strict = { allowPrivateUrls: false, resolve: publicDns };

async function refusal(input: ConnectionInput, policy = strict): Promise<McpConnectionInvalidError> {
  const error = await validateConnection(builtin, input, policy).catch((e: unknown) => e);
  if (!(error instanceof McpConnectionInvalidError)) throw new Error(`expected a refusal, got ${String(error)}`);
  return error;
}

describe("validateConnection", () => {
  it("accepts a catalog provider with its credentials, named after it by default", async () => {
    expect(await validateConnection(builtin, { provider: "notion", credentials: { NOTION_TOKEN: "ntn_x" } }, strict)).toEqual({
      provider: "notion",
      name: "notion",
      credentials: { NOTION_TOKEN: "ntn_x" },
    });
  });

  it("accepts a custom HTTP server on a public address", async () => {
    const ok = await validateConnection(
      builtin,
      { provider: "custom", name: "crm", transport: { type: "http", url: "https://mcp.example.com/mcp" }, credentials: { Authorization: "Bearer t" } },
      strict,
    );
    expect(ok.transport).toEqual({ type: "http", url: "https://mcp.example.com/mcp" });
  });

  it.each<[string, ConnectionInput, string, RegExp]>([
    ["an unknown provider", { provider: "jira", credentials: {} }, "provider", /unknown provider "jira"; known: notion, github, custom/],
    ["a missing credential", { provider: "notion", credentials: {} }, "credentials.NOTION_TOKEN", /required/],
    ["an undeclared credential", { provider: "notion", credentials: { NOTION_TOKEN: "t", NODE_OPTIONS: "--require x" } }, "credentials.NODE_OPTIONS", /not a credential/],
    ["an empty credential", { provider: "notion", credentials: { NOTION_TOKEN: "" } }, "credentials.NOTION_TOKEN", /non-empty/],
    ["a header-splitting credential", { provider: "github", credentials: { Authorization: "Bearer x\r\nX-Evil: 1" } }, "credentials.Authorization", /line breaks/],
    ["a stdio command of the organization's own", { provider: "custom", transport: { type: "stdio", command: "sh", args: ["-c", "id"] }, credentials: {} }, "transport.type", /HTTP only/],
    ["a transport for a catalog provider", { provider: "notion", transport: { type: "stdio", command: "sh" }, credentials: { NOTION_TOKEN: "t" } }, "transport", /only "custom"/],
    ["a custom connection without a URL", { provider: "custom", credentials: {} }, "transport", /required/],
    ["a non-http URL", { provider: "custom", transport: { type: "http", url: "ftp://x.example/" }, credentials: {} }, "transport.url", /http/],
    ["a loopback URL", { provider: "custom", transport: { type: "http", url: "http://127.0.0.1:8080/mcp" }, credentials: {} }, "transport.url", /loopback/],
    ["a metadata URL", { provider: "custom", transport: { type: "http", url: "http://169.254.169.254/" }, credentials: {} }, "transport.url", /link-local/],
    ["a reserved header", { provider: "custom", transport: { type: "http", url: "https://x.example/mcp" }, credentials: { "Mcp-Session-Id": "s" } }, "credentials.Mcp-Session-Id", /transport sets itself/],
    ["a bad connection name", { provider: "notion", name: "../etc", credentials: { NOTION_TOKEN: "t" } }, "name", /letters/],
  ])("refuses %s, naming the field", async (_what, input, field, why) => {
    const error = await refusal(input);
    expect(error.data.field).toBe(field);
    expect(error.data.reason).toMatch(why);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  it("lets the operator allow private custom URLs", async () => {
    const input = { provider: "custom", transport: { type: "http", url: "http://10.0.0.8/mcp" }, credentials: {} };
    expect((await refusal(input)).data.reason).toMatch(/private/);
    expect((await validateConnection(builtin, input, { allowPrivateUrls: true })).transport?.url).toBe("http://10.0.0.8/mcp");
  });
});
