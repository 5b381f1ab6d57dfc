import { readFile } from "node:fs/promises";
import { z } from "zod";
import { describeIssues } from "@nubabel/contracts";
import { CatalogInvalidError } from "./errors.js";

/** Organizations bring their own HTTP server under this provider name; it is never a catalog entry. */
export const CUSTOM = "custom";

/** Environment variable names (stdio) or HTTP header names (http): RFC 9110 tokens cover both. */
export const CredentialName = z
  .string()
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, "must be an environment variable or HTTP header name");

export const StdioTransport = z.object({
  type: z.literal("stdio"),
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
});
export type StdioTransport = z.infer<typeof StdioTransport>;

export const HttpTransport = z.object({
  type: z.literal("http"),
  url: z.url({ protocol: /^https?$/, error: "must be an http(s) URL" }),
});
export type HttpTransport = z.infer<typeof HttpTransport>;

/** How to reach a server. Credentials go to a stdio server as environment, to an HTTP one as headers. */
export const Transport = z.discriminatedUnion("type", [StdioTransport, HttpTransport]);
export type Transport = z.infer<typeof Transport>;

/** One provider: how to reach its server and which credential names a connection must supply. */
export const ProviderEntry = z.object({
  transport: Transport,
  credentials: z.array(CredentialName).default([]),
  description: z.string().default(""),
});
export type ProviderEntry = z.infer<typeof ProviderEntry>;

const ProviderName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, "must be 1-64 lowercase letters, digits, _ or -")
  .refine((n) => n !== CUSTOM, `"${CUSTOM}" is reserved for organizations' own HTTP servers`);

/** The catalog file's shape (`NUBABEL_MCP_CATALOG`), also the shape of the built-in one. */
export const Catalog = z.object({
  // Names are checked here rather than as the record's key schema, whose failure zod reports only
  // as "Invalid key in record", without saying why.
  providers: z.record(z.string(), ProviderEntry).superRefine((providers, ctx) => {
    for (const name of Object.keys(providers)) {
      const checked = ProviderName.safeParse(name);
      if (!checked.success) ctx.addIssue({ code: "custom", path: [name], message: checked.error.issues[0]?.message ?? "invalid provider name" });
    }
  }),
});
export type Catalog = z.infer<typeof Catalog>;

/**
 * What ships with Nubabel. Versions are pinned so `npx` resolves the same server everywhere; an
 * operator who must run offline installs the servers and overrides these entries with `node <path>`.
 */
export const builtin: Catalog = Catalog.parse({
  providers: {
    notion: {
      // The official self-hosted server; it reads the integration token from NOTION_TOKEN.
      transport: { type: "stdio", command: "npx", args: ["-y", "@notionhq/notion-mcp-server@2.5.2"] },
      credentials: ["NOTION_TOKEN"],
      description: "Notion (official @notionhq/notion-mcp-server). NOTION_TOKEN: an internal integration secret (ntn_…).",
    },
    github: {
      // GitHub's own remote server; the npm @modelcontextprotocol/server-github is archived upstream.
      transport: { type: "http", url: "https://api.githubcopilot.com/mcp/" },
      credentials: ["Authorization"],
      description: 'GitHub (remote MCP server by GitHub). Authorization: "Bearer <personal access token>".',
    },
  },
});

/**
 * The built-in catalog with the operator's JSON over it; the operator's entry replaces the built-in
 * one of the same name whole. Throws `CatalogInvalidError` naming the bad field (`providers.x.transport.url`).
 */
export function mergeCatalog(base: Catalog, operatorJson: string | undefined, source = "NUBABEL_MCP_CATALOG"): Catalog {
  if (operatorJson === undefined || operatorJson.trim() === "") return base;
  let raw: unknown;
  try {
    raw = JSON.parse(operatorJson);
  } catch (e) {
    throw new CatalogInvalidError(`${source}: is not valid JSON (${(e as Error).message})`, { source, fields: [] });
  }
  const parsed = Catalog.safeParse(raw);
  if (!parsed.success) {
    const { message, fields } = describeIssues(parsed.error);
    throw new CatalogInvalidError(`${source}: ${message}`, { source, fields });
  }
  return { providers: { ...base.providers, ...parsed.data.providers } };
}

/** Reads the operator's catalog file (when a path is given) and merges it over the built-in one. */
export async function loadCatalog(path: string | undefined, source = "NUBABEL_MCP_CATALOG"): Promise<Catalog> {
  if (!path) return builtin;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new CatalogInvalidError(`${source}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`, {
      source,
      fields: [],
    });
  }
  return mergeCatalog(builtin, text, `${source} (${path})`);
}
