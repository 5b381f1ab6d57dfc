import { parseArgs } from "node:util";
import { CreateConnectionRequest, describeIssues, Ids } from "@nubabel/contracts";
import { cliEnv } from "./cli-env.js";
import { Keyring } from "../crypto/index.js";

/** Loaded only for a command that uses storage (see main.ts). */
const withMcpAdmin: typeof import("./mcp-client.js").withMcpAdmin = async (...args) => (await import("./mcp-client.js")).withMcpAdmin(...args);

export const MCP_USAGE = `  nubabel keys generate [--id ID]  print a new encryption key and the NUBABEL_ENCRYPTION_KEY value for it
  nubabel keys rotate              re-encrypt every MCP credential and webhook signing secret under the current (first) key of
                                   NUBABEL_ENCRYPTION_KEY="new:…,old:…"; prints {rotated, alreadyCurrent, skipped}
  nubabel connections create --org ORG --provider P [--name N] [--url URL] [--disabled]
                           [--credential NAME=VALUE | --credential NAME (value from $NAME)]…
  nubabel connections list --org ORG`;

type Out = { write(text: string): unknown };

/** `nubabel keys …` and `nubabel connections …`; returns the exit code. */
export async function runMcpCli(argv: string[], source: Record<string, string | undefined>, out: Out, err: Out): Promise<number> {
  const [noun, verb, ...rest] = argv;
  const usage = (why: string) => (err.write(`${why}\nusage:\n${MCP_USAGE}\n`), 2);
  if (noun === "keys" && verb === "generate") {
    const { values } = parseArgs({ args: rest, options: { id: { type: "string" } }, strict: true });
    const keyId = values.id ?? `k${new Date().toISOString().slice(0, 10).replace(/-/g, "")}`;
    const key = Keyring.generateKey();
    try {
      Keyring.parse(`${keyId}:${key}`, "--id");
    } catch (e) {
      return usage((e as Error).message);
    }
    out.write(`${JSON.stringify({ keyId, key, NUBABEL_ENCRYPTION_KEY: `${keyId}:${key}` })}\n`);
    return 0;
  }
  if (!(noun === "keys" && verb === "rotate") && !(noun === "connections" && (verb === "create" || verb === "list"))) {
    return usage(`unknown command: ${[noun, verb].filter(Boolean).join(" ")}`);
  }
  const env = cliEnv(source, err);
  if (!env) return 2;
  try {
    if (noun === "keys") {
      parseArgs({ args: rest, options: {}, strict: true });
      const report = await withMcpAdmin(env, (api) => api.rotate());
      out.write(`${JSON.stringify(report)}\n`);
      return 0;
    }
    const { values } = parseArgs({
      args: rest,
      options: {
        org: { type: "string" },
        provider: { type: "string" },
        name: { type: "string" },
        url: { type: "string" },
        disabled: { type: "boolean" },
        credential: { type: "string", multiple: true },
      },
      strict: true,
    });
    const org = Ids.OrganizationId.safeParse(values.org);
    if (!org.success) return usage(`connections ${verb} needs --org ORG (org_…)`);
    if (verb === "list") {
      out.write(`${JSON.stringify(await withMcpAdmin(env, (api) => api.listConnections(org.data)), null, 2)}\n`);
      return 0;
    }
    const credentials: Record<string, string> = {};
    for (const entry of values.credential ?? []) {
      const at = entry.indexOf("=");
      const name = at < 0 ? entry : entry.slice(0, at);
      // NAME alone reads the value from the environment, keeping it out of shell history.
      const value = at < 0 ? source[name] : entry.slice(at + 1);
      if (value === undefined) return usage(`--credential ${name}: no "=" and no environment variable ${name}`);
      credentials[name] = value;
    }
    const parsed = CreateConnectionRequest.safeParse({
      provider: values.provider,
      ...(values.name ? { name: values.name } : {}),
      credentials,
      ...(values.disabled ? { enabled: false } : {}),
      ...(values.url ? { transport: { type: "http", url: values.url } } : {}),
    });
    if (!parsed.success) return usage(`connections create: ${describeIssues(parsed.error).message}`);
    out.write(`${JSON.stringify(await withMcpAdmin(env, (api) => api.createConnection(org.data, parsed.data)))}\n`);
    return 0;
  } catch (e) {
    err.write(`nubabel: ${(e as Error).message}\n`);
    return 1;
  }
}
