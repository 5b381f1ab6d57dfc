import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { builtin, loadCatalog, mergeCatalog } from "./catalog.js";
import { CatalogInvalidError } from "./errors.js";

function failure(fn: () => unknown): CatalogInvalidError {
  try {
    fn();
  } catch (e) {
    if (e instanceof CatalogInvalidError) return e;
    throw e;
  }
  throw new Error("expected a CatalogInvalidError");
}

describe("catalog", () => {
  it("ships notion over stdio (NOTION_TOKEN) and github over HTTP (Authorization header)", () => {
    expect(builtin.providers.notion).toMatchObject({
      transport: { type: "stdio", command: "npx", args: ["-y", expect.stringMatching(/^@notionhq\/notion-mcp-server@/)] },
      credentials: ["NOTION_TOKEN"],
    });
    expect(builtin.providers.github).toMatchObject({
      transport: { type: "http", url: "https://api.githubcopilot.com/mcp/" },
      credentials: ["Authorization"],
    });
  });

  it("lets the operator's entries replace built-in ones and add new ones", () => {
    const merged = mergeCatalog(
      builtin,
      JSON.stringify({
        providers: {
          notion: { transport: { type: "stdio", command: "node", args: ["/opt/notion/cli.mjs"] }, credentials: ["NOTION_TOKEN"] },
          linear: { transport: { type: "http", url: "https://mcp.linear.app/mcp" }, credentials: ["Authorization"], description: "Linear" },
        },
      }),
    );
    expect(merged.providers.notion!.transport).toEqual({ type: "stdio", command: "node", args: ["/opt/notion/cli.mjs"] });
    expect(merged.providers.linear!.description).toBe("Linear");
    expect(merged.providers.github).toEqual(builtin.providers.github);
    expect(mergeCatalog(builtin, undefined)).toBe(builtin);
  });

  it("says why a provider name is refused", () => {
    expect(failure(() => mergeCatalog(builtin, JSON.stringify({ providers: { custom: { transport: { type: "http", url: "https://x" } } } }))).message).toMatch(
      /providers\.custom: "custom" is reserved/,
    );
    expect(failure(() => mergeCatalog(builtin, JSON.stringify({ providers: { "Bad Name": { transport: { type: "http", url: "https://x" } } } }))).message).toMatch(
      /lowercase/,
    );
  });

  it.each([
    [{ providers: { x: { transport: { type: "http", url: "ftp://x" } } } }, "providers.x.transport.url"],
    [{ providers: { x: { transport: { type: "stdio" } } } }, "providers.x.transport.command"],
    [{ providers: { x: { transport: { type: "ws", url: "wss://x" } } } }, "providers.x.transport.type"],
    [{ providers: { x: { transport: { type: "stdio", command: "node" }, credentials: ["BAD NAME"] } } }, "providers.x.credentials.0"],
    [{ providers: { custom: { transport: { type: "http", url: "https://x" } } } }, "providers.custom"],
    [{ providers: { "Bad Name": { transport: { type: "http", url: "https://x" } } } }, "providers.Bad Name"],
    [{ provider: {} }, "providers"],
  ])("names the bad field of %j", (file, field) => {
    const error = failure(() => mergeCatalog(builtin, JSON.stringify(file)));
    expect(error.message).toMatch(/^NUBABEL_MCP_CATALOG: /);
    expect(error.message).toContain(field);
    expect(error.data.fields).toContain(field);
  });

  it("reports a file that is not JSON", () => {
    expect(failure(() => mergeCatalog(builtin, "{ nope")).message).toMatch(/NUBABEL_MCP_CATALOG: is not valid JSON/);
  });

  it("loads the operator's file, naming it when it is unreadable", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "catalog-"));
    const file = path.join(dir, "catalog.json");
    await writeFile(file, JSON.stringify({ providers: { demo: { transport: { type: "http", url: "https://d.example/mcp" } } } }));
    expect((await loadCatalog(file)).providers.demo!.credentials).toEqual([]);
    expect(await loadCatalog(undefined)).toBe(builtin);
    await expect(loadCatalog(path.join(dir, "missing.json"))).rejects.toThrow(/cannot read .*missing\.json \(ENOENT\)/);
  });
});
